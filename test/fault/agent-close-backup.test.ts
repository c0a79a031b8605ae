// Issue 10 leftovers (§5 with §9): stopping the agent while an API-started backup runs.
// The backup is aborted, and its outcome (here a backup_failed alert) is in the outbox
// before agent.close() resolves: a stopping agent loses no record of a backup it began.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Outbox } from '../../agent/link/outbox.ts';
import type { Hub } from '../../hub/hub.ts';
import { tempDir } from '../support/stack.ts';
import { AGENT_ID, outcome, SERVER_ID, startFaultStack, within, type FaultStack } from './harness.ts';

const actor = { kind: 'api', id: 'fault-test' } as const;

function progressOnce(hub: Hub): Promise<void> {
  return within(new Promise<void>((resolve) => {
    const on = (p: { serverId: string; phase: string }) => {
      if (p.serverId !== SERVER_ID || p.phase !== 'saving') return;
      hub.service.off('backupProgress', on);
      resolve();
    };
    hub.service.on('backupProgress', on);
  }), 10_000, 'backup progress');
}

interface Outcome { seq: number; topic: string; data: unknown }
const isOutcome = (r: Outcome) => r.topic === 'backup.completed' || (r.topic === 'alert' && (r.data as { kind: string }).kind === 'backup_failed');

describe('agent close during an API-started backup', () => {
  let s: FaultStack | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  after(async () => {
    await s?.close();
    await cleanup?.();
  });

  it('the backup gets exactly one outcome record, stored before close() resolves', async () => {
    const t = await tempDir('reconsync-close-backup-');
    cleanup = t.cleanup;
    // A slow save: the backup is still waiting for the game when the agent stops.
    s = await startFaultStack(t.dir, { simArgs: ['--save-duration-ms', '3000', '--save-bytes', '262144'] });
    const before = s.hub.store.events.list(AGENT_ID).filter(isOutcome).length;
    const inProgress = progressOnce(s.hub);
    const call = outcome(s.hub.service.createBackup(SERVER_ID, actor));
    await inProgress;

    await within(s.agent.close(), 10_000, 'agent.close()');
    const answer = await within(call, 10_000, 'the API call');
    assert.equal(answer.ok, false, 'the backup was aborted');

    // What the hub stored plus what waits in the agent's outbox for the next agent.
    const atHub = s.hub.store.events.list(AGENT_ID).filter(isOutcome).slice(before);
    const outbox = await Outbox.open(path.join(t.dir, 'agent-data', 'outbox'));
    const waiting = outbox.pending().map((r) => JSON.parse(r.frame) as Outcome).filter(isOutcome);
    await outbox.close();
    // A record sent but not yet acked is in both: the hub de-duplicates by seq, so do we.
    const outcomes = [...new Map([...atHub, ...waiting].map((r) => [r.seq, r])).values()];
    assert.equal(outcomes.length, 1, `one outcome record for the aborted backup: ${JSON.stringify(outcomes)}`);
  });
});
