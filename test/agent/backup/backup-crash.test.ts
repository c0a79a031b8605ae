import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import { sha256File } from '../../../agent/backup/fs-util.ts';
import { makeServer, Published, rcloneConfig, tempDir, writeTree } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./fixtures/backup-child.ts', import.meta.url));
const REPO = path.resolve(fileURLToPath(import.meta.url), '../../../..');

/** kill -9 of the agent during a backup: a half-written archive is never counted, and every listed backup is whole. */
const points = [
  { killAt: 'settling', nth: 1 },
  { killAt: 'archiving', nth: randomInt(1, 3) }, // somewhere in the middle of the archive
  { killAt: 'uploading', nth: 1 },
];

for (const p of points) {
  test(`kill -9 during "${p.killAt}" (#${p.nth}): no .partial counted as a backup`, async (t) => {
    const dir = await tempDir(t);
    const saves = path.join(dir, 'saves');
    await writeTree(saves, { 'world.sav': randomBytes(14 * 1024 * 1024), 'players/a.sav': 'a' });
    const vault = path.join(dir, 'vault');
    const config = await rcloneConfig(dir, vault);
    const remote = `:local:${vault}`;
    const dataDir = path.join(dir, 'data');
    const argsFile = path.join(dir, 'args.json');
    await fs.writeFile(argsFile, JSON.stringify({ dataDir, saves, remote, rcloneConfig: config, ...p }));

    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, argsFile], { stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO });
    t.after(() => child.kill('SIGKILL'));
    const exited = once(child, 'exit');
    const signal = AbortSignal.timeout(30_000);
    let reached = '';
    for await (const line of createInterface({ input: child.stdout! })) {
      signal.throwIfAborted();
      reached = line;
      if (line.startsWith('AT ') || line === 'DONE') break;
    }
    assert.match(reached, new RegExp(`^AT ${p.killAt}`));
    child.kill('SIGKILL');
    assert.equal((await exited)[1], 'SIGKILL');

    const localDir = path.join(dataDir, 'backups', 'srv1');
    if (p.killAt === 'archiving') assert.ok((await fs.readdir(localDir)).some((n) => n.endsWith('.partial')), 'the crash left a half-written archive');

    // The agent starts again.
    const server = makeServer({ savePaths: [saves], backup: { destinations: ['local', remote] } });
    const pub = new Published();
    const engine = new BackupEngine({ dataDir, rclone: { binary: '/usr/bin/rclone', config, timeoutMs: 30_000 }, zstdPoolSize: 1, publishRecord: pub.publishRecord });
    t.after(() => engine.close());
    await engine.init([server]);
    const reportedAtStart = pub.ofTopic('backup.completed').map((r) => r.id);
    assert.deepEqual((await fs.readdir(localDir).catch(() => [])).filter((n) => n.endsWith('.partial')), [], 'leftovers deleted at start');
    const listed = await engine.list('srv1');
    for (const b of listed) {
      for (const d of b.destinations.filter((x) => x.verified)) {
        const file = d.target === 'local' ? path.join(localDir, `${b.id}.tar.zst`) : path.join(vault, 'srv1', `${b.id}.tar.zst`);
        assert.deepEqual(await sha256File(file), { sha256: b.sha256, size: b.size }, `listed backup ${b.id} on ${d.target} is whole`);
      }
    }
    if (p.killAt === 'uploading') {
      assert.equal(listed.length, 1, 'the archive was complete before the upload began: it counts (locally)');
      assert.deepEqual(listed[0]!.destinations.map((d) => [d.target, d.verified]), [['local', true], [remote, false]]);
      // It counts, so the hub is told: the kill came before its record was queued, so the restart queues it.
      assert.deepEqual(reportedAtStart, [listed[0]!.id]);
    } else {
      assert.deepEqual(listed, []);
      assert.deepEqual(reportedAtStart, []);
    }
    // And the next backup works (and picks up the pending upload).
    const rec = await engine.create(server, null, null, { trigger: 'manual' });
    assert.ok(rec.destinations.every((d) => d.verified));
    if (p.killAt === 'uploading') assert.ok((await engine.list('srv1')).every((b) => b.destinations.every((d) => d.verified)), 'the pending upload was retried');
  });
}
