// Issue 10 §9 and its siblings: a backup or a restore has one outcome on the agent and at
// the hub. When its record cannot be queued for the hub (the outbox refuses it), the backup
// is discarded everywhere it reached, and the restore puts the previous world back.
// The link is the only stand-in here (a publishRecord that refuses one topic); the engine,
// rclone, the archives and the file system are real.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { makeServer, Published, rcloneConfig, readTree, tempDir, TestAdminChannel, TestServerControl, writeTree } from './helpers.ts';

const RCLONE = '/usr/bin/rclone';

async function setup(t: Parameters<typeof tempDir>[0], refuse: (topic: string, data: Record<string, unknown>) => boolean) {
  const dir = await tempDir(t);
  const saves = path.join(dir, 'saves');
  await writeTree(saves, { 'world.sav': 'world v1', 'players/a.sav': 'alice' });
  const vault = path.join(dir, 'vault');
  const remote = `:local:${vault}/w`;
  const server = makeServer({ savePaths: [saves], backup: { destinations: ['local', remote] } });
  const pub = new Published();
  const engine = new BackupEngine({
    dataDir: path.join(dir, 'data'), rclone: { binary: RCLONE, config: await rcloneConfig(dir, vault), timeoutMs: 30_000 }, logger: silentLogger,
    publishRecord: async (topic, data) => {
      if (refuse(topic, data as Record<string, unknown>)) throw new ReconSyncError('INTERNAL', 'could not write the outbox: ENOSPC: no space left on device, write');
      await pub.publishRecord(topic, data);
    },
    publishState: pub.publishState, zstdPoolSize: 1,
  });
  t.after(() => engine.close());
  await engine.init([server]);
  return { dir, saves, server, pub, engine, localDir: path.join(dir, 'data', 'backups', server.id), remoteDir: path.join(vault, 'w', server.id) };
}

const names = async (d: string) => (await fs.readdir(d).catch(() => [] as string[])).sort();

test('a backup whose record cannot be queued for the hub is discarded on every destination it reached and in the catalog', async (t) => {
  let refuse = false;
  const s = await setup(t, (topic) => refuse && topic === 'backup.completed');
  const good = await s.engine.create(s.server, new TestServerControl('running'), new TestAdminChannel(), { trigger: 'manual' });
  const local = await names(s.localDir);
  const remote = await names(s.remoteDir);
  assert.equal(remote.length, 2, 'archive and manifest on the remote');
  refuse = true;
  await assert.rejects(s.engine.create(s.server, new TestServerControl('running'), new TestAdminChannel(), { trigger: 'manual' }), (e: unknown) => e instanceof ReconSyncError && /discarded everywhere/.test(e.message));
  assert.deepEqual(await names(s.localDir), local, 'nothing of it on the local disk');
  assert.deepEqual(await names(s.remoteDir), remote, 'nothing of it on the remote');
  assert.deepEqual((await s.engine.list(s.server.id)).map((r) => r.id), [good.id], 'not in the catalog');
  assert.equal(s.pub.alerts('backup_failed').length, 1);
});

test('a restore whose outcome cannot be queued for the hub is rolled back: the previous world is in place and the caller hears RESTORE_FAILED', async (t) => {
  const s = await setup(t, (topic, data) => topic === 'restore.completed' && data.ok === true);
  const control = new TestServerControl('running');
  const rec = await s.engine.create(s.server, control, new TestAdminChannel(), { trigger: 'manual' });
  await writeTree(s.saves, { 'world.sav': 'world v2' });
  const current = await readTree(s.saves);
  await assert.rejects(s.engine.restore(s.server, control, null, { backupId: rec.id }), (e: unknown) => e instanceof ReconSyncError && e.code === 'RESTORE_FAILED' && /previous world was put back/.test(e.message));
  assert.deepEqual(await readTree(s.saves), current);
  assert.equal(control.state, 'running');
  assert.deepEqual(s.pub.ofTopic('restore.completed').map((r) => [r.ok, r.rolledBack]), [[false, true]], 'the failure is what the hub hears');
});
