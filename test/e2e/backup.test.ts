// Issue 4 end to end: backup and restore of a running (simulated) ARK through the HTTP API,
// to the local store and a real rclone remote, verified, cataloged at the hub, restored safely.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { BackupRecord } from '../../protocol/index.ts';
import type { ServerView } from '../../hub/service/types.ts';
import { api, simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** Hashes of the world's own files (the game's own backup copies are not part of a backup). */
async function worldHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    // Same exclusions as the ark profile: .bak copies and timestamped world copies (TheIsland_26.11.2026_14.34.41.ark).
    if (!e.isFile() || /\.(bak|tmp|profilebak|tribebak)$/.test(e.name) || /_\d\d\.\d\d\.\d{4}_\d\d\.\d\d\.\d\d\.ark$/.test(e.name)) continue;
    const full = path.join(e.parentPath ?? e.path, e.name);
    out[path.relative(dir, full)] = await sha256(full);
  }
  return out;
}

type Action<T> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } };

test('backup to local + rclone remote, verified; catalog at the hub; restore puts the old world back', { timeout: 120_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  let stack: Stack | undefined;
  try {
    const rcloneConf = path.join(dir, 'rclone.conf');
    await writeFile(rcloneConf, '[vault]\ntype = local\n');
    const vault = `vault:${path.join(dir, 'vault')}`;
    const onTheFly = `:local:${path.join(dir, 'plain-remote')}`;
    const world = path.join(dir, 'ark-world');
    const commandLog = path.join(dir, 'ark-commands.jsonl');
    const ports = await simPorts();
    stack = await startStack(dir, [{
      id: 'ark', game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, saveDir: world,
      start: { command: process.execPath, args: simArgs('ark', ports, world, ['--command-log', commandLog, '--players', 'Ann']) },
      health: { intervalMs: 200, startGraceMs: 8000, failures: 3, queryTimeoutMs: 800 }, stop: { timeoutMs: 5000 },
      backup: { destinations: ['local', vault, onTheFly], keep: { last: 5, daily: 0, weekly: 0 }, settleMs: 200 },
    }], { agentId: 'e2e-agent', config: { rclone: { config: rcloneConf } } });
    const s = stack;
    await waitFor(async () => (await api<ServerView>(s.hub, 'GET', '/api/v1/servers/ark')).body.state === 'running', 30_000, 'ark running');

    await writeFile(path.join(world, 'marker.txt'), 'A');
    const first = await api<Action<BackupRecord>>(s.hub, 'POST', '/api/v1/servers/ark/actions/backup', { note: 'before the wipe' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.ok(first.body.ok);
    const a = first.body.result;
    assert.deepEqual(a.destinations.map((d) => [d.target, d.verified]), [['local', true], [vault, true], [onTheFly, true]]);
    assert.match(a.sha256, /^[0-9a-f]{64}$/);
    for (const copy of [path.join(dir, 'agent-data', 'backups', 'ark', `${a.id}.tar.zst`), path.join(dir, 'vault', 'ark', `${a.id}.tar.zst`), path.join(dir, 'plain-remote', 'ark', `${a.id}.tar.zst`)]) {
      assert.equal(await sha256(copy), a.sha256, `archive on disk at ${copy}`);
    }
    assert.ok(a.files >= 3 && a.size > 0);

    await t.test('the game was asked to save before the copy', async () => {
      const log = (await readFile(commandLog, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { command: string });
      assert.ok(log.some((e) => e.command === 'saveworld'), 'saveworld sent over RCON');
    });

    await t.test('the hub catalogs it in the fixed shape, newest first, and the server shows it as last backup', async () => {
      await writeFile(path.join(world, 'marker.txt'), 'B');
      const second = await api<Action<BackupRecord>>(s.hub, 'POST', '/api/v1/servers/ark/actions/backup');
      assert.equal(second.status, 200);
      const list = await waitFor(async () => {
        const r = await api<Array<Record<string, unknown>>>(s.hub, 'GET', '/api/v1/servers/ark/backups');
        return r.body.length === 2 && r.body;
      }, 10_000, 'two backups in the catalog');
      assert.equal(list[1]!.id, a.id, 'newest first');
      for (const key of ['id', 'createdAt', 'size', 'sha256', 'files', 'trigger', 'destinations']) assert.ok(key in list[0]!, key);
      assert.equal(list[1]!.trigger, 'manual');
      const view = await waitFor(async () => {
        const v = (await api<ServerView>(s.hub, 'GET', '/api/v1/servers/ark')).body;
        return v.lastBackup?.id === (second.body.ok ? second.body.result.id : '') && v;
      }, 15_000, 'lastBackup on the server status');
      assert.equal(view.lastBackup?.verified, true);
    });

    await t.test('a second job while one runs is refused with BUSY (409)', async () => {
      const [x, y] = await Promise.all([
        api<Action<BackupRecord>>(s.hub, 'POST', '/api/v1/servers/ark/actions/backup'),
        api<Action<BackupRecord>>(s.hub, 'POST', '/api/v1/servers/ark/actions/backup'),
      ]);
      const statuses = [x.status, y.status].sort();
      assert.deepEqual(statuses, [200, 409]);
    });

    await t.test('restore of the first backup: old world back, pre-restore copy kept, server running again', async () => {
      const res = await api<Action<{ backupId: string; preRestoreBackupId: string | null; from: string }>>(s.hub, 'POST', '/api/v1/servers/ark/restore', { backupId: a.id });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.ok);
      assert.equal(res.body.result.from, 'local');
      assert.ok(res.body.result.preRestoreBackupId);
      assert.equal(await readFile(path.join(world, 'marker.txt'), 'utf8'), 'A');
      await waitFor(async () => (await api<ServerView>(s.hub, 'GET', '/api/v1/servers/ark')).body.state === 'running', 20_000, 'running after restore');
      // No staging or swapped-aside folders left beside the world.
      const leftovers = (await readdir(dir)).filter((n) => n.startsWith('ark-world') && n !== 'ark-world' && !n.endsWith('.ready.json'));
      assert.deepEqual(leftovers, []);
    });

    await t.test('scrambling the world and restoring the newest backup brings it back byte for byte', async () => {
      const taken = await api<Action<BackupRecord>>(s.hub, 'POST', '/api/v1/servers/ark/actions/backup', { note: 'newest' });
      assert.ok(taken.body.ok);
      const newest = taken.body.result;
      const before = await worldHashes(world);
      assert.ok(Object.keys(before).length >= 3);
      // Scramble: one file gone, one overwritten, one stranger added.
      const names = Object.keys(before).filter((n) => n !== 'marker.txt');
      await rm(path.join(world, names[0]!));
      await writeFile(path.join(world, names[1]!), 'garbage');
      await writeFile(path.join(world, 'intruder.ark'), 'not ours');
      const res = await api<Action<{ backupId: string }>>(s.hub, 'POST', '/api/v1/servers/ark/restore', { backupId: newest.id });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(await worldHashes(world), before);
      await waitFor(async () => (await api<ServerView>(s.hub, 'GET', '/api/v1/servers/ark')).body.state === 'running', 20_000, 'running after restore');
    });

    await t.test('unknown backup and unknown server answer 404', async () => {
      const r1 = await api<Action<unknown>>(s.hub, 'POST', '/api/v1/servers/ark/restore', { backupId: '20000101-000000-dead' });
      assert.equal(r1.status, 404);
      const r2 = await api<Action<unknown>>(s.hub, 'POST', '/api/v1/servers/nope/actions/backup');
      assert.equal(r2.status, 404);
    });
  } finally {
    await stack?.close();
    await cleanup();
  }
});
