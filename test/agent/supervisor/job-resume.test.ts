import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createPlatform } from '../../../agent/platform.ts';
import { Supervisor } from '../../../agent/supervisor/supervisor.ts';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import type { ResolvedServer } from '../../../agent/types.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { UdpPingProbe, gameAlive, makeSandbox, makeServer, memoryLogger, readPorts, waitGameUp, waitState, type Sandbox } from './helpers.ts';

/**
 * A job that stopped the game (backup without a save channel, restore) starts
 * it again through the supervisor's resumeAfterJob: an operator stop issued
 * during the job wins (the game stays down, the intent says stop, the job's
 * outcome says so); without one the game comes back as before; an operator
 * start while the job holds it down is BUSY. Real Supervisor, real game
 * process, real BackupEngine on a real local destination.
 */
describe('jobs that stop the game leave it to the supervisor to start it again', () => {
  let box: Sandbox;
  let logs: ReturnType<typeof memoryLogger>;
  let sup: Supervisor;
  let engine: BackupEngine;
  let server: ResolvedServer;
  const records: Array<{ topic: string; data: Record<string, unknown> }> = [];
  /** Called with each backup/restore progress phase, synchronously (the job goes on meanwhile). */
  let onPhase: (phase: string) => void = () => undefined;

  beforeEach(async () => {
    box = await makeSandbox();
    logs = memoryLogger();
    records.length = 0;
    onPhase = () => undefined;
    // No save channel and stopIfNoSaveChannel: the backup stops the game for the copy.
    server = makeServer(box, { config: { backup: { destinations: ['local'], stopIfNoSaveChannel: true, settleMs: 20, settleTimeoutMs: 2000 } } });
    await mkdir(server.savePaths[0]!, { recursive: true });
    await writeFile(path.join(server.savePaths[0]!, 'world.db'), 'the world as backed up');
    sup = new Supervisor({ server, probe: new UdpPingProbe(box.gameDir), admin: null, platform: createPlatform({ os: 'linux' }), dataDir: box.dataDir, logger: logs.logger });
    engine = new BackupEngine({
      dataDir: box.dataDir, rclone: { binary: 'rclone', timeoutMs: 30_000 }, logger: logs.logger, zstdPoolSize: 1,
      publishRecord: async (topic, data) => {
        records.push({ topic, data: data as Record<string, unknown> });
      },
      publishState: (_topic, data) => onPhase((data as { phase: string }).phase),
    });
    await engine.init([server]);
    await sup.open();
    await sup.start();
    await waitState(sup, 'running');
    await waitGameUp(box.gameDir);
  });
  afterEach(async () => {
    if (sup.pid !== null) await sup.stop();
    await sup.close();
    await engine.close();
    await box.cleanup();
  });

  const intentRecord = () => path.join(box.dataDir, 'intent', `${server.id}.stopped`);
  /** An operator's stop, as the server.stop RPC handler issues it. */
  const operatorStop = () => sup.stop({ reason: 'operator', operator: true });

  test('backup that stops the game, operator stop during it: the game stays down, the intent says stop, the backup says so', async () => {
    let stopping = null as Promise<unknown> | null;
    // Settling comes after the backup's own stop: the game is down and held by the backup.
    onPhase = (phase) => {
      if (phase === 'settling' && !stopping) stopping = operatorStop();
    };
    const rec = await engine.create(server, sup, null, { trigger: 'manual' });
    assert.ok(stopping, 'the operator stop was issued during the backup');
    await stopping;
    assert.equal(sup.state, 'stopped');
    assert.equal(sup.pid, null);
    assert.equal(await gameAlive(box.gameDir), false, 'the game process is not running');
    assert.ok(existsSync(intentRecord()), 'the operator\'s stop is kept');
    assert.ok(rec.warnings?.includes('left stopped: an operator stopped it during the backup'), JSON.stringify(rec.warnings));
    assert.deepEqual(logs.errors(), []);
  });

  test('backup that stops the game, no operator stop: the game comes back', async () => {
    const rec = await engine.create(server, sup, null, { trigger: 'manual' });
    await waitState(sup, 'running');
    assert.equal(existsSync(intentRecord()), false);
    assert.equal(rec.warnings?.some((w) => w.startsWith('left stopped')) ?? false, false);
  });

  test('operator start while a backup holds the game down is BUSY and names the backup; the backup starts it afterwards', async () => {
    let refused = null as Promise<unknown> | null;
    onPhase = (phase) => {
      if (phase === 'settling' && !refused) refused = sup.start({ operator: true }).then(() => 'started', (e: unknown) => e);
    };
    await engine.create(server, sup, null, { trigger: 'manual' });
    const e = await refused;
    assert.ok(e instanceof ReconSyncError && e.code === 'BUSY', String(e));
    assert.match((e as Error).message, /the backup keeps it stopped; it starts again by itself when that ends/);
    await waitState(sup, 'running');
  });

  test('restore, operator stop during it: the restored world stays (no rollback), the game stays down, the outcome says so', async () => {
    const rec = await engine.create(server, sup, null, { trigger: 'manual' });
    await waitState(sup, 'running');
    await writeFile(path.join(server.savePaths[0]!, 'world.db'), 'griefed');
    const r = await engine.restore(server, sup, null, {
      backupId: rec.id,
      // After the swap the game is down and held by the restore; the operator stops it for good.
      hooks: { afterSwap: async () => void (await operatorStop()) },
    });
    assert.equal(r.backupId, rec.id);
    assert.equal(await readFile(path.join(server.savePaths[0]!, 'world.db'), 'utf8'), 'the world as backed up', 'the restored world stays');
    assert.equal(sup.state, 'stopped');
    assert.equal(await gameAlive(box.gameDir), false, 'the game process is not running');
    assert.ok(existsSync(intentRecord()), 'the operator\'s stop is kept');
    const outcome = records.filter((x) => x.topic === 'restore.completed').map((x) => x.data);
    assert.equal(outcome.length, 1);
    assert.equal(outcome[0]!.ok, true);
    assert.equal(outcome[0]!.rolledBack, false);
    assert.match(String(outcome[0]!.message), /left stopped: an operator stopped it during the restore/);
    assert.deepEqual(logs.errors(), []);
  });

  test('restore, no operator stop: the game comes back on the restored world; an operator start meanwhile is BUSY', async () => {
    const rec = await engine.create(server, sup, null, { trigger: 'manual' });
    await waitState(sup, 'running');
    let refused = null as unknown;
    await engine.restore(server, sup, null, {
      backupId: rec.id,
      hooks: { afterSwap: async () => { refused = await sup.start({ operator: true }).then(() => 'started', (e: unknown) => e); } },
    });
    assert.ok(refused instanceof ReconSyncError && refused.code === 'BUSY', String(refused));
    await waitState(sup, 'running');
    const outcome = records.filter((x) => x.topic === 'restore.completed').map((x) => x.data);
    assert.equal(outcome[0]!.ok, true);
    assert.doesNotMatch(String(outcome[0]!.message), /left stopped/);
  });

  test('scheduled restart after an operator stop (it waited for players to leave meanwhile) leaves the game down', async () => {
    await operatorStop();
    const r = await sup.restart({ reason: 'scheduled restart' });
    assert.equal(r.state, 'stopped');
    assert.match(r.message ?? '', /left stopped: an operator stopped it during the scheduled restart/);
    assert.equal(sup.pid, null);
    assert.equal(await gameAlive(box.gameDir), false);
    // The operator's own restart still brings it back.
    await sup.restart({ reason: 'operator', operator: true });
    await waitState(sup, 'running');
  });
});
