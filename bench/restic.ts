/**
 * restic deduplication and throughput (issue 12): 24 backups of a save-like
 * world (default 200 MiB, `bench/backup.ts`'s generator: half noise, half
 * structured) into one restic repository (format 2, compression auto), with
 * ~2 % of the bytes rewritten between backups in a few contiguous regions of
 * the large files, as games rewrite pages. Compared with one full
 * `tar | zstd -1 -T0` of the same world.
 *
 *   node --import tsx bench/restic.ts
 *   BENCH_RESTIC_MIB=100 BENCH_RESTIC_BACKUPS=12 node --import tsx bench/restic.ts
 *
 * Prints `name: value` lines; nothing when restic, tar or zstd is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ResticRepo } from '../agent/backup/restic-runner.ts';
import { generateSaveData } from './backup.ts';

const MiB = 1024 * 1024;
/** Fraction of the world rewritten between two backups, and in how many contiguous regions. */
const CHANGED_FRACTION = 0.02;
const REGIONS = Number(process.env.BENCH_RESTIC_REGIONS ?? 4);

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await fs.stat(path.join(e.parentPath, e.name))).size;
  }
  return total;
}

/**
 * New contents for a rewritten region. Default: like the world's own pages
 * (each 64 KiB half fresh noise, half structured text with a new variation),
 * as a game rewrites pages of its own format. BENCH_RESTIC_NOISE=1: pure
 * noise, the worst case (nothing of it compresses).
 */
function rewrite(bytes: number, seed: number): Buffer {
  const buf = randomFillSync(Buffer.allocUnsafe(bytes));
  if (process.env.BENCH_RESTIC_NOISE === '1') return buf;
  const words = Buffer.from(`round ${seed} player inventory chunk terrain entity position health stamina structure `);
  for (let base = 0; base < bytes; base += 64 * 1024) {
    for (let i = base + 32 * 1024; i < Math.min(bytes, base + 64 * 1024); i++) buf[i] = words[(i * 7 + seed) % words.length]!;
  }
  return buf;
}

/** Rewrites REGIONS contiguous regions of the two big files with fresh noise, CHANGED_FRACTION of the world in all. */
async function mutate(src: string, worldBytes: number, round: number): Promise<void> {
  const files = ['map.sav', 'world.db'].map((n) => path.join(src, 'world', n));
  const regionBytes = Math.floor((worldBytes * CHANGED_FRACTION) / REGIONS);
  for (let r = 0; r < REGIONS; r++) {
    const file = files[r % files.length]!;
    const size = (await fs.stat(file)).size;
    // Spread over the file, moving each round, as different pages of a world change.
    const offset = Math.floor(((r * 0.23 + round * 0.137) % 1) * (size - regionBytes));
    const fh = await fs.open(file, 'r+');
    const buf = rewrite(regionBytes, round * REGIONS + r);
    await fh.write(buf, 0, buf.length, offset);
    await fh.close();
  }
}

export async function runResticBench(totalMiB = Number(process.env.BENCH_RESTIC_MIB ?? 200), backups = Number(process.env.BENCH_RESTIC_BACKUPS ?? 24)): Promise<Record<string, number>> {
  for (const tool of ['restic', 'tar', 'zstd']) if (spawnSync(tool, ['version'], { stdio: 'ignore' }).error) return {};
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reconsync-bench-restic-'));
  try {
    const src = path.join(tmp, 'src');
    const bytes = await generateSaveData(src, totalMiB);
    const mib = bytes / MiB;
    execFileSync('tar', ['-cf', '/dev/null', '-C', tmp, 'src']); // page cache warm for both
    const result: Record<string, number> = {};

    const t0 = process.hrtime.bigint();
    execFileSync('bash', ['-c', `set -o pipefail; tar -cf - -C "${tmp}" src | zstd -1 -T0 -q -f -o "${tmp}/full.tar.zst"`]);
    result.restic_baseline_tar_zstd_mib_s = mib / (Number(process.hrtime.bigint() - t0) / 1e9);
    const full = (await fs.stat(path.join(tmp, 'full.tar.zst'))).size;

    const repoDir = path.join(tmp, 'repo');
    const repo = new ResticRepo(repoDir, 'bench-password', { cacheDir: path.join(tmp, 'cache') });
    await repo.prepare();
    let firstSecs = 0;
    let laterSecs = 0;
    for (let i = 0; i < backups; i++) {
      if (i > 0) await mutate(src, bytes, i);
      const t = process.hrtime.bigint();
      await repo.run(['backup', '--json', '--tag', 'reconsync,server=bench', '.'], { cwd: src });
      const secs = Number(process.hrtime.bigint() - t) / 1e9;
      if (i === 0) firstSecs = secs;
      else laterSecs += secs;
    }
    const repoBytes = await dirBytes(repoDir);
    result.restic_backup_mib_s = mib / firstSecs;
    if (backups > 1) result.restic_incremental_backup_mib_s = mib / (laterSecs / (backups - 1));
    result.restic_repo_mib = repoBytes / MiB;
    result.full_tar_zstd_mib = full / MiB;
    result.dedup_repo_vs_full_ratio = repoBytes / full;
    result.restic_backups = backups;
    return result;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await runResticBench();
  for (const [k, v] of Object.entries(r)) console.log(`${k}: ${v.toFixed(k.endsWith('ratio') ? 3 : 1)}`);
}
