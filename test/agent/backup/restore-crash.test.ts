import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createArchive } from '../../../agent/backup/archive.ts';
import { ZstdPool } from '../../../agent/backup/compress.ts';
import { ManifestSchema } from '../../../agent/backup/manifest.ts';
import { recoverSwaps } from '../../../agent/backup/swap.ts';
import { readTree, tempDir, writeTree } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./fixtures/restore-child.ts', import.meta.url));

/** kill -9 at each point of a two-folder restore; after recovery the world is entirely old or entirely new. */
const points: Array<{ at: string; expect: 'old' | 'new'; action: 'rolled-back' | 'completed' }> = [
  { at: 'after-staging', expect: 'old', action: 'rolled-back' },
  { at: 'first-aside', expect: 'old', action: 'rolled-back' },
  { at: 'first-in-place', expect: 'old', action: 'rolled-back' },
  { at: 'after-swap', expect: 'new', action: 'completed' },
];

for (const p of points) {
  test(`kill -9 at "${p.at}" then agent restart: the ${p.expect} world, whole`, async (t) => {
    const dir = await tempDir(t);
    const srv = path.join(dir, 'srv');
    const roots = [path.join(srv, 'world'), path.join(srv, 'world_nether')];
    await writeTree(srv, { 'world/level.dat': 'NEW level', 'world/region/a.mca': 'NEW a', 'world_nether/n.dat': 'NEW nether' });
    const pool = new ZstdPool({ size: 1 });
    t.after(() => pool.close());
    const a = await createArchive({ source: { savePaths: roots, include: [], exclude: [], sqlite: [] }, dir: path.join(dir, 'b'), id: 'b1', format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp') });
    const manifest = ManifestSchema.parse({
      manifestVersion: 1, id: 'b1', serverId: 'srv1', game: 'minecraft', createdAt: '2025-01-01T00:00:00.000Z', trigger: 'manual', roots: a.roots, files: a.files,
      archive: { sha256: a.sha256, size: a.size, format: 'tar.zst', unpackedSize: a.unpackedSize }, toolVersion: 'x', locked: false,
    });
    const newWorld = await readTree(srv);
    await fs.rm(srv, { recursive: true });
    await writeTree(srv, { 'world/level.dat': 'OLD level', 'world/players/p.dat': 'OLD p', 'world_nether/n.dat': 'OLD nether' });
    const oldWorld = await readTree(srv);

    const dataDir = path.join(dir, 'data');
    const argsFile = path.join(dir, 'args.json');
    await fs.writeFile(argsFile, JSON.stringify({ dataDir, archivePath: a.archivePath, manifest, killAt: p.at }));
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, argsFile], { stdio: ['ignore', 'pipe', 'inherit'], cwd: path.resolve(fileURLToPath(import.meta.url), '../../../..') });
    t.after(() => child.kill('SIGKILL'));
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout! });
    const signal = AbortSignal.timeout(20_000);
    let reached = '';
    for await (const line of lines) {
      signal.throwIfAborted();
      reached = line;
      if (line.startsWith('AT ') || line === 'DONE') break;
    }
    assert.equal(reached, `AT ${p.at}`, 'the child froze at the chosen point');
    child.kill('SIGKILL');
    const [code, sig] = await exited;
    assert.equal(sig, 'SIGKILL', `child exited by itself (${code})`);

    // The agent comes back up.
    const recovered = await recoverSwaps(dataDir);
    assert.deepEqual(recovered, [{ serverId: 'srv1', backupId: 'b1', preRestoreBackupId: null, action: p.action }]);
    assert.deepEqual(await readTree(srv), p.expect === 'old' ? oldWorld : newWorld, 'one world, whole, nothing left beside it');
    assert.deepEqual(await recoverSwaps(dataDir), [], 'recovery is done once');
  });
}
