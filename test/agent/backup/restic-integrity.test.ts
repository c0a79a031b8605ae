import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { makeServer, Published, readTree, tempDir, TestAdminChannel, TestServerControl, writeTree } from './helpers.ts';

// Real restic: a damaged pack is found by the check and refused at restore; a restic killed mid-backup leaves a lock the next run removes.

const PASSWORD = 'integrity-test-password';
const CHILD = fileURLToPath(new URL('./fixtures/restic-backup-child.ts', import.meta.url));
const REPO_ROOT = path.resolve(fileURLToPath(import.meta.url), '../../../..');

async function restic(repo: string, args: string[]): Promise<string> {
  return (await execa('restic', args, { env: { RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: repo } })).stdout;
}

async function packFiles(repo: string): Promise<Array<{ file: string; size: number }>> {
  const out: Array<{ file: string; size: number }> = [];
  for (const sub of await fs.readdir(path.join(repo, 'data'))) {
    for (const name of await fs.readdir(path.join(repo, 'data', sub))) {
      const file = path.join(repo, 'data', sub, name);
      out.push({ file, size: (await fs.stat(file)).size });
    }
  }
  return out.sort((a, b) => b.size - a.size);
}

test('a damaged pack file: the scheduled check alerts, and a restore from it is refused with nothing changed', async (t) => {
  const dir = await tempDir(t, 'reconsync-restic-');
  const saves = path.join(dir, 'game', 'SavedArks');
  await writeTree(saves, { 'TheIsland.ark': randomBytes(400_000), 'a.arkprofile': 'alice' });
  const repo = path.join(dir, 'repo');
  const server = makeServer({ savePaths: [saves], backup: { destinations: ['local', { restic: repo, password: PASSWORD }], keepLocal: false } });
  const pub = new Published();
  const engine = new BackupEngine({ dataDir: path.join(dir, 'data'), logger: silentLogger, publishRecord: pub.publishRecord, publishState: pub.publishState, zstdPoolSize: 1, uploadAttempts: 1, uploadBackoffMs: 1 });
  t.after(() => engine.close());
  await engine.init([server]);
  const rec = await engine.create(server, new TestServerControl('running'), new TestAdminChannel(), { trigger: 'manual' });
  assert.equal(rec.destinations[0]?.verified, true);

  // A healthy repository passes.
  assert.deepEqual((await engine.checkRepositories([server], '100%')).map((o) => o.ok), [true]);
  assert.deepEqual(pub.alerts(), []);

  // Flip bytes in the middle of the biggest pack (the world's data).
  const pack = (await packFiles(repo))[0]!;
  const fh = await fs.open(pack.file, 'r+');
  await fh.write(Buffer.alloc(64, 0xff), 0, 64, Math.floor(pack.size / 2));
  await fh.close();

  const outcome = await engine.checkRepositories([server], '100%');
  assert.equal(outcome[0]?.ok, false);
  const alert = pub.alerts('backup_failed')[0];
  assert.ok(alert, 'the check alerts');
  assert.match(String(alert.message), /integrity check .* found a problem/);
  assert.ok(!String(alert.message).includes(PASSWORD));

  const before = await readTree(saves);
  await writeTree(saves, { 'a.arkprofile': 'current' });
  const now = await readTree(saves);
  await assert.rejects(engine.restore(server, new TestServerControl('running'), null, { backupId: rec.id }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'RESTORE_FAILED');
    assert.match(err.message, /could not fetch backup .*nothing was changed/);
    assert.match(err.message, /restic restore/);
    return true;
  });
  assert.deepEqual(await readTree(saves), now, 'the current world is untouched');
  assert.notDeepEqual(now, before);
});

test('kill -9 of the agent during restic backup: the next backup works and the stale lock is gone', async (t) => {
  const dir = await tempDir(t, 'reconsync-restic-');
  const saves = path.join(dir, 'saves');
  // Big enough that restic is still uploading at its first progress report (2 a second): 48 MiB could finish before it on a quiet machine.
  await writeTree(saves, { 'world.sav': randomBytes(192 * 1024 * 1024), 'players/a.sav': 'a' });
  const repo = path.join(dir, 'repo');
  const dataDir = path.join(dir, 'data');
  const argsFile = path.join(dir, 'args.json');
  await fs.writeFile(argsFile, JSON.stringify({ dataDir, saves, repo, password: PASSWORD }));

  // Its own process group: kill -9 takes the agent and the restic it runs, as a service manager's kill does.
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, argsFile], { stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO_ROOT, detached: true });
  t.after(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const exited = once(child, 'exit');
  const signal = AbortSignal.timeout(120_000);
  let reached = '';
  for await (const line of createInterface({ input: child.stdout! })) {
    signal.throwIfAborted();
    reached = line;
    if (line.startsWith('AT ') || line === 'DONE') break;
  }
  assert.match(reached, /^AT uploading/);
  process.kill(-child.pid!, 'SIGKILL');
  assert.equal((await exited)[1], 'SIGKILL');
  // Wait for the restic of that group to be gone too, then see its lock left behind.
  const deadline = Date.now() + 20_000;
  let locks = (await restic(repo, ['list', 'locks', '--no-lock'])).split('\n').filter(Boolean);
  while (locks.length === 0 && Date.now() < deadline) locks = (await restic(repo, ['list', 'locks', '--no-lock'])).split('\n').filter(Boolean);
  assert.equal(locks.length, 1, 'the killed restic left its lock');

  const server = makeServer({ savePaths: [saves], backup: { destinations: ['local', { restic: repo, password: PASSWORD }], keep: { last: 1, hourly: 0, daily: 0, weekly: 0, monthly: 0 } } });
  const pub = new Published();
  const engine = new BackupEngine({ dataDir, publishRecord: pub.publishRecord, zstdPoolSize: 1, uploadAttempts: 1, uploadBackoffMs: 1 });
  t.after(() => engine.close());
  await engine.init([server]);
  const first = await engine.create(server, new TestServerControl('running'), null, { trigger: 'manual' });
  assert.equal(first.destinations.find((d) => d.target.startsWith('restic:'))?.verified, true, JSON.stringify(first.destinations));
  assert.deepEqual((await restic(repo, ['list', 'locks', '--no-lock'])).split('\n').filter(Boolean), [], 'the stale lock was removed');
  // Retention (forget + prune, exclusive locks) works on the repository too.
  await writeTree(saves, { 'players/a.sav': 'b' });
  await engine.create(server, new TestServerControl('running'), null, { trigger: 'manual' });
  assert.deepEqual(pub.alerts(), []);
  const snaps = JSON.parse(await restic(repo, ['snapshots', '--json'])) as unknown[];
  assert.equal(snaps.length, 1);
  await restic(repo, ['check']);
});
