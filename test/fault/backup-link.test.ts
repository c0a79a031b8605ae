// Issue 7 §2: a backup whose outcome has to cross a broken link or a hub restart.
// The agent finishes the job on its own; backup.completed reaches the hub exactly once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import path from 'node:path';
import type { Hub } from '../../hub/hub.ts';
import type { BackupRecord } from '../../protocol/index.ts';
import { tempDir } from '../support/stack.ts';
import { AGENT_ID, completedRecords, outcome, SERVER_ID, startFastHub, startFaultStack, waitFor, within, type FaultStack } from './harness.ts';

const actor = { kind: 'api', id: 'fault-test' } as const;

describe('backups across link faults', () => {
  let s: FaultStack;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir('reconsync-fault-backup-');
    cleanup = t.cleanup;
    s = await startFaultStack(t.dir, { simArgs: ['--save-duration-ms', '1200', '--save-bytes', '262144'] });
  });
  after(async () => {
    await s?.close();
    await cleanup?.();
  });

  /** Resolves once the agent reports the backup in progress. */
  function progressOnce(hub: Hub): Promise<void> {
    return within(new Promise<void>((resolve) => {
      const on = (p: { serverId: string; phase: string }) => {
        if (p.serverId !== SERVER_ID || (p.phase !== 'saving' && p.phase !== 'settling')) return;
        hub.service.off('backupProgress', on);
        resolve();
      };
      hub.service.on('backupProgress', on);
    }), 10_000, 'backup progress');
  }

  async function finishedOnAgent(known: Set<string>): Promise<BackupRecord> {
    return waitFor(async () => (await s.agent.engine.list(SERVER_ID)).find((b) => !known.has(b.id) && b.trigger === 'manual'), 20_000, 'the backup finished on the agent');
  }

  it('link cut and kept down while the backup finishes: the record waits in the outbox, then arrives once', async () => {
    const known = new Set((await s.agent.engine.list(SERVER_ID)).map((b) => b.id));
    const inProgress = progressOnce(s.hub);
    const call = outcome(s.hub.service.createBackup(SERVER_ID, actor));
    await inProgress;
    s.proxy.refuse(true);
    s.proxy.cut();
    const failed = await within(call, 5000, 'createBackup after the cut');
    assert.equal(!failed.ok && failed.error.code, 'DISCONNECTED');

    // The job does not depend on the hub: it completes and its record is queued on disk.
    const done = await finishedOnAgent(known);
    await waitFor(() => s.agent.link.pendingRecords > 0, 5000, 'the record queued in the outbox');
    assert.equal(completedRecords(s.hub, AGENT_ID, done.id), 0, 'not at the hub while the link is down');
    assert.equal(s.hub.service.listBackups(SERVER_ID).some((b) => b.id === done.id), false);

    s.proxy.refuse(false);
    await waitFor(() => completedRecords(s.hub, AGENT_ID, done.id) === 1 && s.agent.link.pendingRecords === 0, 10_000, 'the record delivered and acked');

    // Cut again right after delivery, then once more mid-handshake: re-sends, if any, are deduplicated by seq.
    s.proxy.cut();
    await s.proxy.nextConnection(AbortSignal.timeout(5000));
    s.proxy.cut();
    await waitFor(() => s.hub.link.registry.get(AGENT_ID)?.open && s.agent.link.connected, 10_000, 'the agent back online');
    assert.equal(completedRecords(s.hub, AGENT_ID, done.id), 1);
    const listed = s.hub.service.listBackups(SERVER_ID).filter((b) => b.id === done.id);
    assert.equal(listed.length, 1);
    assert.deepEqual(listed[0]!.destinations, [{ target: 'local', verified: true }]);
    assert.equal(listed[0]!.sha256, done.sha256);
  });

  it('hub restart during a backup (same port, same dataDir): the outcome is delivered exactly once', async () => {
    const known = new Set((await s.agent.engine.list(SERVER_ID)).map((b) => b.id));
    const port = s.hub.port;
    const dataDir = path.join(s.dir, 'hub-data');
    const inProgress = progressOnce(s.hub);
    const call = outcome(s.hub.service.createBackup(SERVER_ID, actor));
    await inProgress;
    const oldHub = s.hub;
    await within(oldHub.close(), 10_000, 'hub close');
    const failed = await within(call, 5000, 'createBackup when the hub closes');
    assert.equal(failed.ok, false);
    assert.match(String(!failed.ok && failed.error.code), /^(DISCONNECTED|CANCELLED)$/);

    // The backup finishes while no hub is there at all.
    const done = await finishedOnAgent(known);
    s.hub = await startFastHub(dataDir, port);
    await waitFor(() => completedRecords(s.hub, AGENT_ID, done.id) === 1 && s.agent.link.pendingRecords === 0, 15_000, 'the record at the new hub');

    // And after one more restart nothing is delivered twice.
    await s.hub.close();
    s.hub = await startFastHub(dataDir, port);
    await waitFor(() => s.hub.link.registry.get(AGENT_ID)?.open, 15_000, 'the agent at the third hub');
    assert.equal(completedRecords(s.hub, AGENT_ID, done.id), 1);
    assert.equal(s.hub.service.listBackups(SERVER_ID).filter((b) => b.id === done.id).length, 1);
    // Every record seq the hub holds for this agent is unique and gapless: nothing lost, nothing twice.
    const seqs = s.hub.store.events.list(AGENT_ID).map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
  });
});
