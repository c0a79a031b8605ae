// Issue 12 as a new user tries it: a restic repository in agent.yaml, a backup through the API shows it verified
// (snapshot id at the hub), a restore brings the world back from restic, a partial restore brings back one file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { BackupRecord } from '../../protocol/index.ts';
import type { ServerView } from '../../hub/service/types.ts';
import { api, simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';

type Action<T> = { ok: true; result: T } | { ok: false; error: unknown };
const PASSWORD = 'e2e-restic-password-9f3a';

async function worldHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    // Same exclusions as the ark profile: the game's own backup copies are not part of a backup.
    if (!e.isFile() || /\.(bak|tmp|profilebak|tribebak)$/.test(e.name) || /_\d\d\.\d\d\.\d{4}_\d\d\.\d\d\.\d\d\.ark$/.test(e.name)) continue;
    out[path.relative(dir, path.join(e.parentPath, e.name))] = createHash('sha256').update(await readFile(path.join(e.parentPath, e.name))).digest('hex');
  }
  return out;
}

test('restic destination end to end: backup verified with its snapshot at the hub, restore and partial restore from restic, no password anywhere', { timeout: 180_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  let stack: Stack | undefined;
  try {
    const repo = path.join(dir, 'restic-repo');
    const target = `restic:${repo}`;
    const world = path.join(dir, 'ark-world');
    const ports = await simPorts();
    stack = await startStack(dir, [{
      id: 'ark', game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, saveDir: world,
      start: { command: process.execPath, args: simArgs('ark', ports, world, ['--players', 'Ann']) },
      health: { intervalMs: 200, startGraceMs: 8000, failures: 3, queryTimeoutMs: 800 }, stop: { timeoutMs: 5000 },
      backup: { destinations: ['local', { restic: repo, password: PASSWORD }], keepLocal: false, settleMs: 200 },
    }], { agentId: 'e2e-agent' });
    const s = stack;
    await waitFor(async () => (await api<ServerView>(s.hub, 'GET', '/api/v1/servers/ark')).body.state === 'running', 30_000, 'ark running');

    await writeFile(path.join(world, 'marker.txt'), 'A');
    const taken = await api<Action<BackupRecord>>(s.hub, 'POST', '/api/v1/servers/ark/actions/backup');
    assert.equal(taken.status, 200, JSON.stringify(taken.body));
    assert.ok(taken.body.ok);
    const b = taken.body.result;
    assert.deepEqual(b.destinations.map((d) => [d.target, d.verified]), [[target, true]]);
    const before = await worldHashes(world);

    const list = await waitFor(async () => {
      const r = await api<BackupRecord[]>(s.hub, 'GET', '/api/v1/servers/ark/backups');
      return r.body.length === 1 && r.body;
    }, 10_000, 'the backup in the hub catalog');
    assert.equal(list[0]!.destinations[0]!.target, target);
    assert.equal(list[0]!.destinations[0]!.verified, true);
    assert.match(list[0]!.destinations[0]!.snapshot ?? '', /^[0-9a-f]{8,64}$/, 'the hub keeps the snapshot id');

    // Whole restore from restic.
    const names = Object.keys(before).filter((n) => n !== 'marker.txt');
    await writeFile(path.join(world, names[0]!), 'garbage');
    await writeFile(path.join(world, 'marker.txt'), 'B');
    const res = await api<Action<{ from: string }>>(s.hub, 'POST', '/api/v1/servers/ark/restore', { backupId: b.id });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body.ok);
    assert.equal(res.body.result.from, target);
    await waitFor(async () => (await api<ServerView>(s.hub, 'GET', '/api/v1/servers/ark')).body.state === 'running', 20_000, 'running after restore');
    const after = await worldHashes(world);
    for (const [name, hash] of Object.entries(before)) assert.equal(after[name], hash, name);

    // Partial restore: only marker.txt comes back.
    await writeFile(path.join(world, 'marker.txt'), 'C');
    const partial = await api<Action<{ from: string }>>(s.hub, 'POST', '/api/v1/servers/ark/restore', { backupId: b.id, paths: ['ark-world/marker.txt'] });
    assert.equal(partial.status, 200, JSON.stringify(partial.body));
    assert.equal(await readFile(path.join(world, 'marker.txt'), 'utf8'), 'A');
    await waitFor(async () => (await api<ServerView>(s.hub, 'GET', '/api/v1/servers/ark')).body.state === 'running', 20_000, 'running after partial restore');

    // The password is in no API answer and no event.
    const events = await api<unknown>(s.hub, 'GET', '/api/v1/events?limit=500');
    const backups = await api<unknown>(s.hub, 'GET', '/api/v1/servers/ark/backups');
    for (const body of [taken.body, res.body, partial.body, events.body, backups.body]) assert.ok(!JSON.stringify(body).includes(PASSWORD));
  } finally {
    await stack?.close();
    await cleanup();
  }
});
