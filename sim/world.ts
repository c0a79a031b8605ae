import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SimGameId } from './games.ts';
import { worldLayout, type LayoutFile, type LayoutVars, type Stamp, type WorldLayout } from './world-layout.ts';

export interface WorldWriterOptions {
  game: SimGameId;
  /** null = no files: saves only bump the generation. */
  dir: string | null;
  vars: LayoutVars;
  saveBytes: number;
}

export interface SaveOutcome {
  generation: number;
  /** Relative paths written by this save. */
  files: string[];
  durationMs: number;
}

/** Chunks per file when a save is slowed down, so the files visibly grow over time. */
const CHUNKS_PER_FILE = 4;
/** Bytes at the start of each binary file: magic, then the generation (uint64 BE). */
const GENERATION_BYTES = 8;

/**
 * Writes a game's world the way the game does (world-layout.ts): temp file and
 * rename, in-place SQLite, WAL appends, its own rolling backups. Each save
 * stamps a new generation into every file so a test can tell which save a
 * backup or a restore holds.
 */
export class WorldWriter {
  readonly layout: WorldLayout;
  #generation = 0;
  readonly #o: WorldWriterOptions;
  readonly #totalWeight: number;

  constructor(options: WorldWriterOptions) {
    this.#o = options;
    this.layout = worldLayout(options.game, options.vars);
    this.#totalWeight = this.layout.files.reduce((s, f) => s + f.weight, 0) || 1;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Reads the generation of an existing world, or writes a fresh one (generation 1). */
  async init(): Promise<{ generation: number; created: boolean }> {
    const dir = this.#o.dir;
    if (dir === null) return { generation: this.#generation, created: false };
    await mkdir(dir, { recursive: true });
    const main = path.join(dir, this.layout.files[0]!.path);
    const found = await readGeneration(main, this.layout.files[0]!.magic);
    if (found === null && (await exists(main))) {
      // Never clobber a real game's world: only files the sim wrote carry its header.
      throw new Error(`${main} exists but was not written by the sim; refusing to overwrite it (use an empty save dir)`);
    }
    if (found !== null) {
      this.#generation = found;
      await this.#writeStatics();
      return { generation: found, created: false };
    }
    await this.save({ durationMs: 0 });
    return { generation: this.#generation, created: true };
  }

  /** One save. With durationMs > 0 the writes are spread over that time; the signal aborts mid-write (a crash). */
  async save(opts: { durationMs: number; signal?: AbortSignal }): Promise<SaveOutcome> {
    const started = Date.now();
    const generation = this.#generation + 1;
    const dir = this.#o.dir;
    if (dir === null) {
      if (opts.durationMs > 0) await sleep(opts.durationMs, opts.signal);
      this.#generation = generation;
      return { generation, files: [], durationMs: Date.now() - started };
    }
    await this.#ownBackups(dir, stampOf(new Date()));
    const dynamic = this.layout.files.filter((f) => f.mode !== 'static');
    const pause = opts.durationMs > 0 ? opts.durationMs / (dynamic.length * CHUNKS_PER_FILE) : 0;
    await this.#writeStatics();
    for (const file of dynamic) {
      await this.#writeFile(dir, file, generation, pause, opts.signal);
    }
    this.#generation = generation;
    return { generation, files: dynamic.map((f) => f.path), durationMs: Date.now() - started };
  }

  /** Every file under the save dir, relative, sorted (own backups included). */
  async listFiles(): Promise<string[]> {
    if (this.#o.dir === null) return [];
    const out: string[] = [];
    await walk(this.#o.dir, '', out);
    return out.sort();
  }

  #size(file: LayoutFile): number {
    const share = Math.floor((this.#o.saveBytes * file.weight) / this.#totalWeight);
    return Math.max(share, file.magic.length + GENERATION_BYTES);
  }

  #body(file: LayoutFile, generation: number): Buffer {
    if (file.text !== undefined) return Buffer.from(file.text, 'utf8');
    const size = this.#size(file);
    const head = Buffer.alloc(file.magic.length + GENERATION_BYTES);
    head.write(file.magic, 0, 'latin1');
    head.writeBigUInt64BE(BigInt(generation), file.magic.length);
    return Buffer.concat([head, randomBytes(size - head.length)]);
  }

  async #writeStatics(): Promise<void> {
    const dir = this.#o.dir;
    if (dir === null) return;
    for (const file of this.layout.files.filter((f) => f.mode === 'static')) {
      const abs = path.join(dir, file.path);
      if (await exists(abs)) continue;
      await mkdir(path.dirname(abs), { recursive: true });
      await writeFile(abs, this.#body(file, 0));
    }
  }

  async #writeFile(dir: string, file: LayoutFile, generation: number, pause: number, signal?: AbortSignal): Promise<void> {
    const abs = path.join(dir, file.path);
    await mkdir(path.dirname(abs), { recursive: true });
    const body = this.#body(file, generation);
    switch (file.mode) {
      case 'replace':
        await writeGradually(`${abs}.tmp`, body, 'w', pause, signal);
        await rename(`${abs}.tmp`, abs);
        return;
      case 'ark-unlink':
        await writeGradually(`${abs}.tmp`, body, 'w', pause, signal);
        await unlink(abs).catch(ignoreMissing);
        // The gap ARK leaves between unlink and rename: a copier can see the file missing.
        await new Promise((r) => setImmediate(r));
        await rename(`${abs}.tmp`, abs);
        return;
      case 'valheim-old':
        await writeGradually(`${abs}.new`, body, 'w', pause, signal);
        await rename(abs, `${abs}.old`).catch(ignoreMissing);
        await rename(`${abs}.new`, abs);
        return;
      case 'inplace':
        await writeGradually(abs, body, (await exists(abs)) ? 'r+' : 'w', pause, signal);
        return;
      case 'append-wal': {
        // A checkpoint every fourth save empties the journal, as SQLite does.
        if (generation % 4 === 0) await writeFile(abs, body.subarray(0, file.magic.length + GENERATION_BYTES));
        else await writeGradually(abs, body, 'a', pause, signal);
        return;
      }
      case 'static':
        return;
    }
  }

  async #ownBackups(dir: string, stamp: Stamp): Promise<void> {
    for (const b of this.layout.backups) {
      const from = path.join(dir, b.from);
      if (!(await exists(from))) continue;
      const to = path.join(dir, b.to(stamp));
      await mkdir(path.dirname(to), { recursive: true });
      await copyFile(from, to);
      if (b.keep) {
        const parent = b.keep.level === 'dir' ? path.dirname(path.dirname(to)) : path.dirname(to);
        await pruneOldest(parent, b.keep.match, b.keep.n);
      }
    }
  }
}

async function writeGradually(file: string, body: Buffer, flags: 'w' | 'r+' | 'a', pause: number, signal?: AbortSignal): Promise<void> {
  const fh = await open(file, flags === 'a' ? fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT : flags);
  try {
    const chunks = pause > 0 ? CHUNKS_PER_FILE : 1;
    const step = Math.ceil(body.length / chunks);
    for (let off = 0; off < body.length; off += step) {
      signal?.throwIfAborted();
      const part = body.subarray(off, off + step);
      if (flags === 'a') await fh.write(part);
      else await fh.write(part, 0, part.length, off);
      if (pause > 0) await sleep(pause, signal);
    }
    if (flags === 'r+') await fh.truncate(body.length);
  } finally {
    await fh.close();
  }
}

async function readGeneration(file: string, magic: string): Promise<number | null> {
  try {
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(magic.length + GENERATION_BYTES);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      if (bytesRead < buf.length || buf.toString('latin1', 0, magic.length) !== magic) return null;
      return Number(buf.readBigUInt64BE(magic.length));
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

async function pruneOldest(parent: string, match: RegExp, keep: number): Promise<void> {
  const names = (await readdir(parent).catch(() => [] as string[])).filter((n) => match.test(n));
  if (names.length <= keep) return;
  const withTime = await Promise.all(names.map(async (n) => ({ n, t: (await stat(path.join(parent, n))).mtimeMs })));
  withTime.sort((a, b) => a.t - b.t || a.n.localeCompare(b.n));
  for (const { n } of withTime.slice(0, withTime.length - keep)) await rm(path.join(parent, n), { recursive: true, force: true });
}

async function walk(root: string, rel: string, out: string[]): Promise<void> {
  const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) await walk(root, r, out);
    else out.push(r);
  }
}

function stampOf(d: Date): Stamp {
  const p = (n: number) => String(n).padStart(2, '0');
  const date = [p(d.getDate()), p(d.getMonth() + 1), String(d.getFullYear())];
  const time = [p(d.getHours()), p(d.getMinutes()), p(d.getSeconds())];
  return { ark: `${date.join('.')}_${time.join('.')}`, palworld: `${[...date].reverse().join('.')}-${time.join('.')}` };
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
