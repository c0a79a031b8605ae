import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../../agent/backup/catalog.ts';
import { BackupEngine, type BackupEngineOptions } from '../../../agent/backup/engine.ts';
import { sha256File } from '../../../agent/backup/fs-util.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { makeServer, Published, rcloneConfig, readTree, tempDir, TestAdminChannel, TestServerControl, writeTree } from './helpers.ts';

const RCLONE = '/usr/bin/rclone';

async function setup(t: Parameters<typeof tempDir>[0], backup: Record<string, unknown> = {}, engineOpts: Partial<BackupEngineOptions> = {}, profile = {}) {
  const dir = await tempDir(t);
  const saves = path.join(dir, 'ark', 'SavedArks');
  await writeTree(saves, { 'TheIsland.ark': randomBytes(200_000), 'a.arkprofile': 'alice', 'b.arkprofile': 'bob', 'TheIsland.bak': 'the game\'s own backup' });
  const vault = path.join(dir, 'vault');
  const config = await rcloneConfig(dir, vault);
  const remote = `:local:${vault}/ark`;
  const server = makeServer({ savePaths: [saves], backup: { destinations: ['local', remote], ...backup }, profile });
  const pub = new Published();
  /** The options, for a second engine over the same dataDir (an agent restart). */
  const opts: BackupEngineOptions = {
    dataDir: path.join(dir, 'data'), rclone: { binary: RCLONE, config, timeoutMs: 30_000 }, logger: silentLogger,
    publishRecord: pub.publishRecord, publishState: pub.publishState, zstdPoolSize: 1, uploadBackoffMs: 1, ...engineOpts,
  };
  const engine = new BackupEngine(opts);
  t.after(() => engine.close());
  await engine.init([server]);
  const localDir = path.join(dir, 'data', 'backups', server.id);
  const remoteDir = path.join(vault, 'ark', server.id);
  return { dir, saves, vault, remote, server, pub, opts, engine, localDir, remoteDir, control: new TestServerControl('running'), admin: new TestAdminChannel() };
}

const archives = async (d: string) => (await fs.readdir(d).catch(() => [] as string[])).filter((n) => n.endsWith('.tar.zst')).sort();

test('backup: save over the admin channel, archive, upload to local + rclone, both verified', async (t) => {
  const s = await setup(t);
  const rec = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual', note: 'before the boss fight' });
  assert.deepEqual(s.admin.commands, ['saveworld']);
  assert.deepEqual(rec.destinations, [{ target: 'local', verified: true }, { target: s.remote, verified: true }]);
  assert.equal(rec.trigger, 'manual');
  assert.equal(rec.note, 'before the boss fight');
  assert.equal(rec.files, 3, 'the game\'s .bak is excluded');
  for (const d of [s.localDir, s.remoteDir]) {
    const file = path.join(d, `${rec.id}.tar.zst`);
    assert.deepEqual(await sha256File(file), { sha256: rec.sha256, size: rec.size }, `copy in ${d}`);
    const manifest = JSON.parse(await fs.readFile(path.join(d, `${rec.id}.manifest.json`), 'utf8'));
    assert.equal(manifest.archive.sha256, rec.sha256);
    assert.deepEqual(manifest.roots, { SavedArks: { path: s.saves, kind: 'dir' } });
  }
  const phases = [...new Set(s.pub.progress.map((p) => p.phase))];
  assert.deepEqual(phases, ['saving', 'settling', 'archiving', 'verifying', 'uploading', 'retention', 'done'], 'the archive is verified (restorer checks) before any upload');
  assert.deepEqual(s.pub.ofTopic('backup.completed'), [rec]);
  assert.deepEqual(await s.engine.list(s.server.id), [rec]);
  assert.deepEqual(s.pub.alerts(), []);
});

test('one job per server: a second backup while one runs is BUSY', async (t) => {
  const s = await setup(t, { destinations: ['local'] });
  let release!: () => void;
  const saving = new Promise<void>((r) => (s.admin.onSave = () => { r(); return new Promise<void>((go) => (release = go)); }));
  const first = s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  await saving;
  await assert.rejects(s.engine.create(s.server, s.control, s.admin, { trigger: 'schedule' }), (e: unknown) => e instanceof ReconSyncError && e.code === 'BUSY' && /a backup is already running for srv1/.test(e.message));
  release();
  await first;
  s.admin.onSave = null;
  await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' }); // free again
});

test('retention keep last 3: five backups leave three, locally and on the remote; a locked one survives', async (t) => {
  const s = await setup(t, { keep: { last: 3, daily: 0, weekly: 0 } });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    if (i === 1) await s.engine.lock(s.server, ids[0]!, true);
    ids.push((await s.engine.create(s.server, s.control, s.admin, { trigger: 'schedule' })).id);
  }
  const kept = [ids[0]!, ids[2]!, ids[3]!, ids[4]!].map((id) => `${id}.tar.zst`).sort();
  assert.deepEqual(await archives(s.localDir), kept, 'newest three plus the locked one');
  assert.deepEqual(await archives(s.remoteDir), kept);
  assert.deepEqual((await s.engine.list(s.server.id)).map((r) => r.id), [ids[4], ids[3], ids[2], ids[0]]);
  const removed = s.pub.ofTopic('backup.removed');
  assert.deepEqual(removed.filter((r) => r.target === null).map((r) => r.backupId), [ids[1]]);
  const remoteManifest = JSON.parse(await fs.readFile(path.join(s.remoteDir, `${ids[0]}.manifest.json`), 'utf8'));
  assert.equal(remoteManifest.locked, true, 'the lock travels with the manifest');
});

test('a bad remote: clear error, upload_failed alert, local copy kept, upload pending', async (t) => {
  const s = await setup(t, { destinations: ['local', 'nosuchremote:bucket/ark'], keepLocal: false }, { uploadAttempts: 2 });
  const rec = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  assert.deepEqual(rec.destinations[0], { target: 'local', verified: true });
  assert.equal(rec.destinations[1]!.verified, false);
  assert.match(rec.destinations[1]!.error!, /rclone copyto on nosuchremote:bucket\/ark failed .*didn't find section in config file/);
  const alerts = s.pub.alerts('upload_failed');
  assert.equal(alerts.length, 1);
  assert.match(String(alerts[0]!.message), /upload of backup .* to nosuchremote:bucket\/ark failed after 2 attempts: .*the local copy is kept/);
  assert.deepEqual(await archives(s.localDir), [`${rec.id}.tar.zst`], 'keepLocal: false does not drop the only copy');
});

test('a remote that is down costs its attempts once per backup run, not once more for every earlier pending upload', async (t) => {
  const dir = await tempDir(t);
  // The real rclone behind a wrapper that writes down each call.
  const calls = path.join(dir, 'rclone-calls.log');
  const wrapper = path.join(dir, 'rclone-wrapper.sh');
  await fs.writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${calls}'\nexec ${RCLONE} "$@"\n`, { mode: 0o755 });
  const s = await setup(t, { destinations: ['local', 'nosuchremote:bucket/ark'] }, { uploadAttempts: 2, rclone: { binary: wrapper, timeoutMs: 30_000 } });
  const copies = async () => (await fs.readFile(calls, 'utf8').catch(() => '')).split('\n').filter((l) => l.split(' ').includes('copyto')).length;
  for (let i = 0; i < 3; i++) {
    const before = await copies();
    const rec = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
    assert.equal(rec.destinations[1]!.verified, false);
    assert.equal(await copies() - before, 2, `backup ${i + 1}: its own 2 attempts, no retry of the ${i} earlier pending uploads to the same dead remote`);
  }
  // The catalog as the next start reads it from disk.
  const pending = [...(await new Catalog(s.opts.dataDir).entries(s.server.id)).values()].filter((e) => e.pending.length > 0);
  assert.equal(pending.length, 3, 'every upload stays pending for a later run');
});

test('a destination written with credentials never shows them in records, alerts or the list', async (t) => {
  // Fails locally (the password is not obscured): no network needed, and rclone echoes the secret in its error.
  const s = await setup(t, { destinations: ['local', ':sftp,host=127.0.0.1,port=1,user=u,pass=TOPSECRET:dir'] }, { uploadAttempts: 1 });
  const rec = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  const everything = JSON.stringify([rec, s.pub.records, s.pub.progress, await s.engine.list(s.server.id)]);
  assert.doesNotMatch(everything, /TOPSECRET/);
  assert.equal(rec.destinations[1]!.target, ':sftp,host=[redacted],port=1,user=[redacted],pass=[redacted]:dir');
  assert.match(rec.destinations[1]!.error!, /is it obscured/);
});

test('keepLocal false: the local copy goes once the remote copy is verified, and restore fetches it from there', async (t) => {
  const s = await setup(t, { keepLocal: false });
  const before = await readTree(s.saves);
  const rec = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  assert.deepEqual(rec.destinations, [{ target: s.remote, verified: true }]);
  assert.deepEqual(await archives(s.localDir), []);
  await writeTree(s.saves, { 'TheIsland.ark': 'griefed', 'c.arkprofile': 'intruder' });
  const r = await s.engine.restore(s.server, s.control, s.admin, { backupId: rec.id });
  assert.equal(r.from, s.remote);
  // The game's own .bak is never archived; the restore carries the current one over instead of deleting it.
  assert.deepEqual(await readTree(s.saves), before);
});

test('restore through the engine: pre-restore backup, world back byte for byte, server up, outcome record', async (t) => {
  const s = await setup(t, { destinations: ['local'] });
  const rec = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  const backedUp = await readTree(s.saves);
  await writeTree(s.saves, { 'TheIsland.ark': 'griefed' });
  const griefed = await readTree(s.saves);
  const r = await s.engine.restore(s.server, s.control, s.admin, { backupId: rec.id });
  assert.equal(r.from, 'local');
  assert.deepEqual(await readTree(s.saves), { ...backedUp, 'TheIsland.bak': griefed['TheIsland.bak']! });
  assert.equal(s.control.state, 'running');
  const list = await s.engine.list(s.server.id);
  const pre = list.find((b) => b.id === r.preRestoreBackupId);
  assert.equal(pre?.trigger, 'pre-restore');
  const outcome = s.pub.ofTopic('restore.completed');
  assert.equal(outcome.length, 1);
  assert.equal(outcome[0]!.ok, true);
  assert.equal(outcome[0]!.preRestoreBackupId, r.preRestoreBackupId);
  await assert.rejects(s.engine.restore(s.server, s.control, s.admin, { backupId: 'nope' }), (e: unknown) => e instanceof ReconSyncError && e.code === 'UNKNOWN_BACKUP');
});

test('Minecraft-style: save-off and save-all flush before the copy, save-on right after it', async (t) => {
  const s = await setup(t, { destinations: ['local'] }, {}, { admin: { kind: 'source-rcon', dialect: 'minecraft', defaultPort: 25575, stopCommand: 'stop', preBackupCommands: ['save-off', 'save-all flush'], postBackupCommands: ['save-on'] } });
  const events: string[] = [];
  const exec = s.admin.exec.bind(s.admin);
  s.admin.exec = async (c) => (events.push(`rcon ${c}`), exec(c));
  const publish = s.pub.publishState;
  s.pub.publishState = (topic, data) => {
    const p = (data as { phase: string }).phase;
    if (events.at(-1) !== p) events.push(p);
    publish(topic, data);
  };
  const engine = new BackupEngine({ ...s.opts, publishState: s.pub.publishState });
  t.after(() => engine.close());
  await engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  assert.deepEqual(events, ['saving', 'rcon save-off', 'rcon save-all flush', 'settling', 'archiving', 'rcon save-on', 'verifying', 'retention', 'done']);
});

test('no save channel + stopIfNoSaveChannel: stopped (supervisor held) for the copy, started again', async (t) => {
  const s = await setup(t, { destinations: ['local'], stopIfNoSaveChannel: true }, {}, { admin: { kind: 'none' }, stop: { method: 'interrupt' } });
  await s.engine.create(s.server, s.control, null, { trigger: 'manual' });
  assert.deepEqual(s.control.log.filter((l) => l.endsWith(')')), ['hold(backup)', 'stop()', 'start()']);
  assert.equal(s.control.state, 'running');
  assert.equal(s.control.holds, 0);
});

test('a failed save command still archives the last save, with a warning in the manifest', async (t) => {
  const s = await setup(t, { destinations: ['local'] });
  s.admin.failSave = true;
  const rec = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  const manifest = JSON.parse(await fs.readFile(path.join(s.localDir, `${rec.id}.manifest.json`), 'utf8'));
  assert.match(manifest.warnings.join('\n'), /save command over source-rcon failed \(RCON connection refused\)/);
});

test('watchdog: a much smaller archive alerts backup_shrunk; no recent verified backup alerts backup_overdue once', async (t) => {
  const s = await setup(t, { destinations: ['local'], maxAgeHours: 6 });
  await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  await fs.rm(path.join(s.saves, 'TheIsland.ark'));
  const small = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  const shrunk = s.pub.alerts('backup_shrunk');
  assert.equal(shrunk.length, 1);
  assert.match(String(shrunk[0]!.message), new RegExp(`backup ${small.id} of srv1 is \\d+ % of the previous one`));

  assert.equal(await s.engine.checkOverdue(s.server), false);
  const later = new FakeClock(Date.now() + 7 * 3_600_000);
  const watchdog = new BackupEngine({ ...s.opts, clock: later });
  assert.equal(await watchdog.checkOverdue(s.server), true);
  assert.equal(await watchdog.checkOverdue(s.server), true);
  const overdue = s.pub.alerts('backup_overdue');
  assert.equal(overdue.length, 1, 'alerted once, not on every check');
  assert.match(String(overdue[0]!.message), /no verified backup of srv1 for 7\.0 h \(limit 6 h\)/);
});

test('disk full: BACKUP alert with the DISK_FULL code, nothing listed', async (t) => {
  const s = await setup(t, { destinations: ['local'] }, { statfs: async () => ({ bavail: 1, bsize: 4096 }) });
  await assert.rejects(s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' }), (e: unknown) => e instanceof ReconSyncError && e.code === 'DISK_FULL');
  assert.match(String(s.pub.alerts('backup_failed')[0]?.message), /not enough free disk/);
  assert.deepEqual(await s.engine.list(s.server.id), []);
  assert.deepEqual(await fs.readdir(s.localDir), []);
});

test('a lost catalog is rebuilt from the destinations\' manifests', async (t) => {
  const s = await setup(t);
  const rec = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  await fs.rm(path.join(s.dir, 'data', 'backup-state'), { recursive: true });
  const fresh = new BackupEngine({ ...s.opts });
  await fresh.init([s.server]);
  const list = await fresh.list(s.server.id);
  assert.equal(list.length, 1);
  assert.equal(list[0]!.sha256, rec.sha256);
  assert.deepEqual(list[0]!.destinations.map((d) => d.target), ['local', s.remote]);
});

test('zstd worker threads end after an idle spell and come back for the next backup', async (t) => {
  const s = await setup(t, {}, { poolIdleMs: 30 });
  await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  const deadline = Date.now() + 5000;
  while (s.engine.zstdWorkers > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(s.engine.zstdWorkers, 0, 'an idle agent holds no zstd workers');
  const again = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  assert.ok(again.destinations.every((d) => d.verified));
});
