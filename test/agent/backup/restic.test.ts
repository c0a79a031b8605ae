import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { makeServer, Published, rcloneConfig, readTree, tempDir, TestAdminChannel, TestServerControl, writeTree } from './helpers.ts';

// Real restic (0.14 from apt) on a folder repository and on an rclone-backed one.

const PASSWORD = 'correct horse battery staple 42';

async function restic(repo: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await execa('restic', args, { env: { RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: repo, ...env } });
  return r.stdout;
}

async function setup(t: Parameters<typeof tempDir>[0], repoOf: (dir: string) => Promise<{ repo: string; rcloneConf?: string }>, backup: Record<string, unknown> = {}) {
  const dir = await tempDir(t, 'reconsync-restic-');
  const saves = path.join(dir, 'game', 'SavedArks');
  await writeTree(saves, { 'TheIsland.ark': randomBytes(300_000), 'players/a.arkprofile': 'alice', 'players/b.arkprofile': 'bob' });
  const { repo, rcloneConf } = await repoOf(dir);
  const server = makeServer({ savePaths: [saves], backup: { destinations: ['local', { restic: repo, password: PASSWORD }], ...backup } });
  const pub = new Published();
  const engine = new BackupEngine({
    dataDir: path.join(dir, 'data'), logger: silentLogger, publishRecord: pub.publishRecord, publishState: pub.publishState,
    zstdPoolSize: 1, uploadBackoffMs: 1, uploadAttempts: 1, ...(rcloneConf ? { rclone: { config: rcloneConf } } : {}),
  });
  t.after(() => engine.close());
  await engine.init([server]);
  return { dir, saves, repo, server, pub, engine, control: new TestServerControl('running'), admin: new TestAdminChannel() };
}

for (const kind of ['folder', 'rclone'] as const) {
  test(`restic (${kind} repository): backup, verified snapshot, list, restore byte for byte, partial restore; the password never leaves the environment`, async (t) => {
    const s = await setup(t, async (dir) => {
      if (kind === 'folder') return { repo: path.join(dir, 'repo') };
      const conf = await rcloneConfig(dir, path.join(dir, 'remote-root'));
      return { repo: 'rclone:vault:restic-repo', rcloneConf: conf };
    }, { keepLocal: false });
    const env: Record<string, string> = kind === 'rclone' ? { RCLONE_CONFIG: path.join(s.dir, 'rclone.conf') } : {};
    const target = `restic:${s.repo}`;
    await fs.mkdir(path.join(s.saves, 'empty', 'deeper'), { recursive: true });
    const before = await readTree(s.saves);

    const rec = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
    assert.equal(rec.destinations.length, 1, JSON.stringify(rec.destinations));
    const d = rec.destinations[0]!;
    assert.equal(d.target, target);
    assert.equal(d.verified, true, d.error);
    assert.match(d.snapshot ?? '', /^[0-9a-f]{8,64}$/);
    assert.deepEqual(s.pub.alerts(), []);
    assert.ok(s.pub.progress.some((p) => p.phase === 'uploading' && p.target === target), 'progress from restic --json');

    // The snapshot carries the tags, and is the one the catalog names.
    const snaps = JSON.parse(await restic(s.repo, ['snapshots', '--json'], env)) as Array<{ id: string; tags: string[] }>;
    assert.equal(snaps.length, 1);
    assert.ok(snaps[0]!.id.startsWith(d.snapshot!));
    for (const tag of ['reconsync', `server=${s.server.id}`, `backup=${rec.id}`, 'trigger=manual', 'files=3']) assert.ok(snaps[0]!.tags.includes(tag), tag);
    // A repository created by the agent has compression (format 2).
    assert.equal((JSON.parse(await restic(s.repo, ['cat', 'config'], env)) as { version: number }).version, 2);

    // A rebuilt catalog finds the backup in the repository alone.
    const rebuilt = await s.engine.rebuildCatalog(s.server);
    assert.deepEqual(rebuilt.map((r) => [r.id, r.destinations.map((x) => x.target)]), [[rec.id, [target]]]);

    // Whole restore, from restic (the local copy is gone: keepLocal false).
    await writeTree(s.saves, { 'TheIsland.ark': 'griefed', 'players/c.arkprofile': 'mallory' });
    const r = await s.engine.restore(s.server, s.control, s.admin, { backupId: rec.id });
    assert.equal(r.from, target);
    assert.deepEqual(await readTree(s.saves), before);

    // Partial restore: one file back, the rest as it is now.
    await writeTree(s.saves, { 'players/a.arkprofile': 'changed', 'players/b.arkprofile': 'also changed' });
    await s.engine.restore(s.server, s.control, s.admin, { backupId: rec.id, paths: ['SavedArks/players/a.arkprofile'] });
    assert.equal(await fs.readFile(path.join(s.saves, 'players', 'a.arkprofile'), 'utf8'), 'alice');
    assert.equal(await fs.readFile(path.join(s.saves, 'players', 'b.arkprofile'), 'utf8'), 'also changed');

    // The password is in no record, progress event or alert.
    assert.ok(!JSON.stringify(s.pub.records).includes(PASSWORD));
    assert.ok(!JSON.stringify(s.pub.progress).includes(PASSWORD));
  });
}

test('restic retention: tiers applied per snapshot, a locked backup and the newest verified are kept, space pruned', async (t) => {
  const s = await setup(t, async (dir) => ({ repo: path.join(dir, 'repo') }), { keep: { last: 1, hourly: 0, daily: 0, weekly: 0, monthly: 0 }, keepLocal: false });
  const first = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  // No local manifest (keepLocal: false): the lock still reaches the repository, as a tag.
  const locked = await s.engine.lock(s.server, first.id, true);
  await writeTree(s.saves, { 'TheIsland.ark': randomBytes(300_000) });
  const second = await s.engine.create(s.server, s.control, s.admin, { trigger: 'manual' });
  await writeTree(s.saves, { 'TheIsland.ark': randomBytes(300_000) });
  const third = await s.engine.create(s.server, s.control, s.admin, { trigger: 'schedule' });

  const snaps = JSON.parse(await restic(s.repo, ['snapshots', '--json'])) as Array<{ id: string; tags: string[] }>;
  const ids = snaps.map((x) => x.tags.find((tg) => tg.startsWith('backup='))!.slice(7)).sort();
  assert.deepEqual(ids, [first.id, third.id].sort());
  const lockedSnap = snaps.find((x) => x.tags.includes(`backup=${first.id}`))!;
  assert.ok(lockedSnap.tags.includes('locked'), 'the lock is a tag on the snapshot');
  // Re-tagging rewrote the snapshot: the record names the new one.
  assert.ok(lockedSnap.id.startsWith(locked.destinations[0]!.snapshot!), `${lockedSnap.id} vs ${locked.destinations[0]!.snapshot}`);
  const removed = s.pub.ofTopic('backup.removed').map((x) => x.backupId);
  assert.ok(removed.includes(second.id));
  // Pruned: no snapshot references the second backup's data, and the repository is consistent.
  await restic(s.repo, ['check']);
  assert.deepEqual(s.pub.alerts(), []);
});
