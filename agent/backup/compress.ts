import { createRequire } from 'node:module';
import os from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { ZSTD_WORKER_SOURCE } from './zstd-worker-source.ts';
import { findZstd } from './zstd-native.ts';
import { ZstdLauncher } from './zstd-launcher.ts';

/**
 * Compression for archives. zstd runs as WebAssembly (@bokuweb/zstd-wasm) so the
 * agent needs nothing but Node on Windows and Linux. To use more than one core
 * the tar stream is cut into independent chunks, each compressed in a worker
 * into its own zstd frame; frames are written in order, and a concatenation of
 * frames is a valid zstd stream (`zstd -d` reads it). gzip does the same with
 * gzip members on zlib's thread pool (a multi-member .gz is valid too).
 * Backups compress through the `zstd` binary when it is installed (zstd-native.ts,
 * archive-output.ts: one process per archive, bounded frames); it measured faster
 * than the workers here. Restores and verifies always read with the WASM pool,
 * so any archive restores on any agent.
 */

export type ArchiveFormat = 'tar.zst' | 'tar.gz';

export const DefaultCompressOptions = {
  chunkBytes: 4 * 1024 * 1024,
  /** Same level as the `zstd -1` baseline; on save data level 3 gains under 1 %. */
  zstdLevel: 1,
  gzipLevel: 6,
  /** Chunks compressing or waiting to be written; bounds memory to about 2 × this × chunkBytes. */
  window: 4,
} as const satisfies Record<string, number>;

/** Decompressed size accepted per zstd frame: ours are 4 MiB; a hostile frame must not exhaust memory. */
const MAX_FRAME_CONTENT = 256 * 1024 * 1024;
const ZSTD_BLOCK_MAX = 128 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;

export function formatFromConfig(format: 'zstd' | 'gzip'): ArchiveFormat {
  return format === 'gzip' ? 'tar.gz' : 'tar.zst';
}

/**
 * Where the worker loads zstd-wasm from. A bundle can point RECONSYNC_ZSTD_ENTRY
 * at a shipped copy of `@bokuweb/zstd-wasm/dist/common/index.node.js` (with its zstd.wasm beside it).
 */
export function resolveZstdEntry(): string {
  const fromEnv = process.env.RECONSYNC_ZSTD_ENTRY;
  if (fromEnv) return fromEnv;
  return createRequire(import.meta.url).resolve('@bokuweb/zstd-wasm');
}

interface Pending {
  resolve(buf: Uint8Array): void;
  reject(err: Error): void;
  worker: PoolWorker;
}
interface PoolWorker {
  worker: Worker;
  busy: number;
}
type WorkerReply = { id: number; ok: true; buf: ArrayBuffer; off: number; len: number } | { id: number; ok: false; error: string };

/** A few worker threads running zstd-wasm. Workers hold the event loop only while they have work. */
export class ZstdPool {
  readonly size: number;
  readonly #workers: PoolWorker[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  #launcher: Promise<ZstdLauncher | null> | null = null;

  /** The zstd binary that compresses backups, or null: the WASM workers do. */
  readonly native: string | null;
  /** Input per native frame (zstd-native.ts); tests make it small. */
  readonly nativeFrameBytes: number | undefined;

  /**
   * `native`: a zstd binary, 'auto' (the default) for zstd on PATH (`env`'s) if any, null
   * for the WASM workers only. Native is the default: through one process per archive
   * it measured faster than the workers on the same data in the same run (bench/README.md,
   * issue 14); the binary is checked once, on first use (nativeProgram()).
   */
  constructor(opts: { size?: number; zstdEntry?: string; native?: string | null | 'auto'; env?: NodeJS.ProcessEnv; nativeFrameBytes?: number } = {}) {
    this.size = Math.max(1, opts.size ?? Math.min(2, os.availableParallelism()));
    this.#zstdEntry = opts.zstdEntry ?? resolveZstdEntry();
    this.native = opts.native === undefined || opts.native === 'auto' ? findZstd(opts.env) : opts.native;
    this.nativeFrameBytes = opts.nativeFrameBytes;
    for (let i = 0; i < this.size; i++) this.#workers.push(this.#spawn());
  }

  /**
   * The launcher of the zstd binary backups go through (started once, on first use), or
   * null when there is none or it is too old: then the WASM workers compress.
   */
  nativeLauncher(): Promise<ZstdLauncher | null> {
    if (this.#closed) return Promise.resolve(null);
    this.#launcher ??= this.native ? ZstdLauncher.start(this.native) : Promise.resolve(null);
    return this.#launcher;
  }

  /** The zstd binary backups go through, once it answered `-V` with a usable version; null: WASM. */
  async nativeProgram(): Promise<string | null> {
    return (await this.nativeLauncher())?.program ?? null;
  }

  readonly #zstdEntry: string;

  #spawn(): PoolWorker {
    const pw: PoolWorker = { worker: new Worker(ZSTD_WORKER_SOURCE, { eval: true, workerData: { zstdEntry: this.#zstdEntry } }), busy: 0 };
    pw.worker.unref();
    pw.worker.on('message', (msg: WorkerReply) => this.#settle(pw, msg));
    pw.worker.on('error', (err) => this.#failWorker(pw, err));
    pw.worker.on('exit', (code) => {
      this.#failWorker(pw, new Error(`zstd worker exited with code ${code}`));
      // A crashed worker (e.g. out of memory on a hostile frame) is replaced, so the pool keeps working.
      const i = this.#workers.indexOf(pw);
      if (!this.#closed && i !== -1) this.#workers[i] = this.#spawn();
    });
    return pw;
  }

  compress(chunk: Uint8Array, level: number): Promise<Uint8Array> {
    return this.#run({ op: 'c', level }, chunk);
  }

  /** `bound`: the frame's decompressed size (or an upper bound when the frame does not say). */
  decompress(frame: Uint8Array, bound: number): Promise<Uint8Array> {
    return this.#run({ op: 'd', bound }, frame);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#workers.map((w) => w.worker.terminate()), this.#launcher?.then((l) => l?.close())]);
  }

  #run(extra: Record<string, unknown>, input: Uint8Array): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error('zstd pool is closed'));
    const pw = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.#nextId++;
    // Transfer when the view owns its whole buffer (our chunks do); otherwise copy once.
    // (Buffer#slice is a view, not a copy: copy explicitly.)
    const owned = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength && input.buffer instanceof ArrayBuffer;
    let buf: ArrayBuffer;
    if (owned) buf = input.buffer as ArrayBuffer;
    else {
      const copy = new Uint8Array(input.byteLength);
      copy.set(input);
      buf = copy.buffer;
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, worker: pw });
      if (pw.busy++ === 0) pw.worker.ref();
      pw.worker.postMessage({ id, buf, off: 0, len: input.byteLength, ...extra }, [buf]);
    });
  }

  #settle(pw: PoolWorker, msg: WorkerReply): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (--pw.busy === 0) pw.worker.unref();
    if (msg.ok) p.resolve(new Uint8Array(msg.buf, msg.off, msg.len));
    else p.reject(new Error(`zstd: ${msg.error}`));
  }

  #failWorker(pw: PoolWorker, err: Error): void {
    for (const [id, p] of this.#pending) {
      if (p.worker !== pw) continue;
      this.#pending.delete(id);
      p.reject(this.#closed ? new Error('zstd pool is closed') : err);
    }
    pw.busy = 0;
  }
}

const gzipAsync = promisify(zlib.gzip);

export interface FrameWriterOptions {
  format: ArchiveFormat;
  pool: ZstdPool | null;
  output: (buf: Uint8Array) => Promise<void>;
  level?: number;
  window?: number;
}

/**
 * Accepts chunks, compresses up to `window` of them at once (WASM workers or
 * zlib's pool), and hands the results to `output` strictly in input order.
 * `write` resolves when there is room for another chunk: that is the
 * backpressure on the reader. (The zstd binary's path is zstd-native.ts.)
 */
export class FrameWriter {
  #tail: Promise<void> = Promise.resolve();
  #inflight = 0;
  readonly #waiters: Array<() => void> = [];
  #error: unknown = null;
  readonly #compressOne: (chunk: Buffer) => Promise<Uint8Array>;
  readonly #opts: FrameWriterOptions;

  constructor(opts: FrameWriterOptions) {
    this.#opts = opts;
    const { format, pool } = opts;
    if (format === 'tar.zst') {
      if (!pool) throw new Error('zstd needs a ZstdPool');
      const level = opts.level ?? DefaultCompressOptions.zstdLevel;
      this.#compressOne = (chunk) => pool.compress(chunk, level);
    } else {
      const level = opts.level ?? DefaultCompressOptions.gzipLevel;
      this.#compressOne = (chunk) => gzipAsync(chunk, { level });
    }
  }

  async write(chunk: Buffer): Promise<void> {
    const limit = this.#opts.window ?? DefaultCompressOptions.window;
    while (this.#inflight >= limit && this.#error === null) await new Promise<void>((r) => this.#waiters.push(r));
    if (this.#error !== null) throw this.#error;
    this.#inflight++;
    const result = this.#compressOne(chunk);
    result.catch(() => undefined); // observed through the tail below
    this.#tail = this.#tail
      .then(async () => {
        if (this.#error !== null) return;
        await this.#opts.output(await result);
      })
      .catch((err: unknown) => {
        this.#error ??= err;
      })
      .finally(() => {
        this.#inflight--;
        this.#waiters.shift()?.();
        if (this.#error !== null) while (this.#waiters.length) this.#waiters.shift()!();
      });
  }

  /** Resolves once every chunk is compressed and written; rethrows the first failure. */
  async end(): Promise<void> {
    await this.#tail;
    if (this.#error !== null) throw this.#error;
  }
}

/** Size of the complete zstd (or skippable) frame at `off`, or null when more bytes are needed. */
export function zstdFrameAt(buf: Buffer, off: number): { length: number; bound: number; skippable: boolean } | null {
  if (buf.length - off < 8) return null;
  const magic = buf.readUInt32LE(off);
  if ((magic & 0xfffffff0) === 0x184d2a50) {
    const len = 8 + buf.readUInt32LE(off + 4);
    return buf.length - off >= len ? { length: len, bound: 0, skippable: true } : null;
  }
  if (magic !== ZSTD_MAGIC) throw new Error('not a zstd stream (bad frame magic)');
  const fhd = buf[off + 4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const checksum = (fhd >> 2) & 1;
  const didSize = [0, 1, 2, 4][fhd & 3]!;
  const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  let p = off + 5 + (singleSegment ? 0 : 1) + didSize;
  if (buf.length < p + fcsSize) return null;
  let fcs = -1;
  if (fcsSize === 1) fcs = buf[p]!;
  else if (fcsSize === 2) fcs = buf.readUInt16LE(p) + 256;
  else if (fcsSize === 4) fcs = buf.readUInt32LE(p);
  else if (fcsSize === 8) fcs = Number(buf.readBigUInt64LE(p));
  p += fcsSize;
  let bound = 0;
  for (;;) {
    if (buf.length < p + 3) return null;
    const bh = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16);
    const last = bh & 1;
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) throw new Error('corrupt zstd stream (reserved block type)');
    const stored = type === 1 ? 1 : size;
    bound += type === 2 ? ZSTD_BLOCK_MAX : size;
    p += 3 + stored;
    if (buf.length < p) return null;
    if (last) break;
  }
  p += checksum ? 4 : 0;
  if (buf.length < p) return null;
  return { length: p - off, bound: fcs >= 0 ? fcs : bound, skippable: false };
}

/** Cuts a zstd stream into whole frames (what our writer produced: one frame per chunk). */
export async function* splitZstdFrames(source: AsyncIterable<Uint8Array>): AsyncGenerator<{ frame: Buffer; bound: number }> {
  let buf = Buffer.alloc(0);
  for await (const chunk of source) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : Buffer.from(chunk);
    let off = 0;
    for (let f = zstdFrameAt(buf, off); f; f = zstdFrameAt(buf, off)) {
      if (!f.skippable) {
        if (f.bound > MAX_FRAME_CONTENT) throw new Error(`zstd frame of ${f.bound} bytes is larger than this reader accepts`);
        // Copy so the frame owns its buffer and can be transferred to a worker.
        yield { frame: Buffer.from(buf.subarray(off, off + f.length)), bound: Math.max(f.bound, 1) };
      }
      off += f.length;
    }
    buf = buf.subarray(off);
    if (buf.length > MAX_FRAME_CONTENT) throw new Error('zstd frame too large or stream corrupt');
  }
  if (buf.length) throw new Error('truncated zstd stream');
}

/** Maps in parallel (at most `limit` at once), yielding results in input order. */
export async function* orderedMap<T, R>(source: AsyncIterable<T>, fn: (t: T) => Promise<R>, limit: number): AsyncGenerator<R> {
  const it = source[Symbol.asyncIterator]();
  const inflight: Promise<R>[] = [];
  let done = false;
  try {
    for (;;) {
      while (!done && inflight.length < limit) {
        const r = await it.next();
        if (r.done) done = true;
        else {
          const p = fn(r.value);
          p.catch(() => undefined);
          inflight.push(p);
        }
      }
      const head = inflight.shift();
      if (!head) return;
      yield await head;
    }
  } finally {
    await it.return?.();
  }
}

/** Streams the decompressed bytes of an archive. `pool` is required for zstd. */
export async function* decompressStream(source: AsyncIterable<Uint8Array>, format: ArchiveFormat, pool: ZstdPool | null): AsyncGenerator<Buffer> {
  if (format === 'tar.zst') {
    if (!pool) throw new Error('zstd needs a ZstdPool');
    const frames = splitZstdFrames(source);
    for await (const out of orderedMap(frames, (f) => pool.decompress(f.frame, f.bound), pool.size * 2)) {
      yield Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    }
    return;
  }
  const gunzip = zlib.createGunzip();
  const feeding = pipeline(Readable.from(source), gunzip);
  feeding.catch(() => undefined); // errors surface through gunzip's iterator
  for await (const chunk of gunzip) yield chunk as Buffer;
  await feeding;
}
