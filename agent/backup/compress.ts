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
import { readZstd, type ZstdReadOptions } from './zstd-read.ts';

// The frame splitter moved to zstd-frame.ts; tests still import it from here.

/**
 * Compression for archives. zstd runs as WebAssembly (@bokuweb/zstd-wasm) so the
 * agent needs nothing but Node on Windows and Linux. To use more than one core
 * the tar stream is cut into independent chunks, each compressed in a worker
 * into its own zstd frame; frames are written in order, and a concatenation of
 * frames is a valid zstd stream (`zstd -d` reads it). gzip does the same with
 * gzip members on zlib's thread pool (a multi-member .gz is valid too).
 * Backups compress through the `zstd` binary when it is installed (zstd-native.ts,
 * archive-output.ts: one process per archive); it measured faster than the
 * workers here. It writes bounded frames of tar and one frame per large file.
 *
 * Reading (verify, restore: decompressStream) never needs the binary, so any
 * archive restores on any agent (zstd-read.ts). Frames that decompress to at
 * most 32 MiB are decoded whole on the WASM pool, several at once, in order;
 * larger ones (a 2 GiB save as one frame) stream through fzstd, pure JS, loaded
 * on first use, with memory bounded by the frame's window (≤ 8 MiB, checked)
 * instead of its size (zstd-stream.ts). Headers are checked before anything is
 * allocated: archives come back from remote storage.
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

/**
 * Streams the decompressed bytes of an archive. `pool` is required for zstd
 * (zstd-read.ts: small frames on the pool, big ones streamed); `zstd` tunes
 * that reader (tests make its bounds small).
 */
export async function* decompressStream(source: AsyncIterable<Uint8Array>, format: ArchiveFormat, pool: ZstdPool | null, zstd?: ZstdReadOptions): AsyncGenerator<Buffer> {
  if (format === 'tar.zst') {
    if (!pool) throw new Error('zstd needs a ZstdPool');
    yield* readZstd(source, pool, zstd);
    return;
  }
  const gunzip = zlib.createGunzip();
  const feeding = pipeline(Readable.from(source), gunzip);
  feeding.catch(() => undefined); // errors surface through gunzip's iterator
  for await (const chunk of gunzip) yield chunk as Buffer;
  await feeding;
}
