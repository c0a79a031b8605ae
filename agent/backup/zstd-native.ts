/**
 * zstd through the system's `zstd` binary, when it is installed: native zstd
 * runs ~2× the WebAssembly build per core (bench/README.md). Streaming: tar
 * chunks go to zstd's stdin as they are made, its stdout goes to the same
 * output (sha256, file, fsync) as the WASM frames, in order.
 *
 * One zstd process per frame of `frameBytes` (32 MiB) input, a few at once for the
 * cores: the archive stays a concatenation of independent frames of bounded
 * size, which our own reader (compress.ts decompressStream, WASM) restores on
 * a machine without zstd. One `zstd -T0` over the whole archive would write a
 * single frame as large as the archive, more than that reader accepts.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export const DefaultNativeZstdOptions = {
  /**
   * Input per frame (and per zstd process): bounds what a reader holds per frame.
   * 32 MiB: fewer process starts; 16 MiB measured ~1.5× slower on a loaded machine.
   */
  frameBytes: 32 * 1024 * 1024,
  /** zstd processes at once; each is single-threaded. */
  processes: Math.max(1, os.availableParallelism()),
  /** Keeps this much of zstd's stderr for the error message. */
  stderrBytes: 2048,
  /**
   * A frame that gets no input for this long is killed: the archiver abandons its
   * writer when a backup fails half-way, and zstd would otherwise wait on its stdin
   * for the agent's lifetime. Far above any pause of a live backup.
   */
  idleKillMs: 5 * 60_000,
} as const;

export interface NativeZstdOptions {
  /** Path of the zstd binary (findZstd). */
  program: string;
  level: number;
  output: (buf: Uint8Array) => Promise<void>;
  frameBytes?: number;
  processes?: number;
}

const OUTPUT_BATCH_BYTES = 4 * 1024 * 1024;
/** Input queued for one zstd process before write() waits for it to drain. */
const STDIN_WINDOW_BYTES = 16 * 1024 * 1024;

/** The zstd binary on PATH, or null: then the WASM pool compresses. */
export function findZstd(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | null {
  const names = platform === 'win32' ? ['zstd.exe'] : ['zstd'];
  const dirs = (env.PATH ?? env.Path ?? '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
  for (const dir of dirs) {
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        if (!statSync(file).isFile()) continue;
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // Not here.
      }
    }
  }
  return null;
}

/** One zstd process compressing one frame; its output is held until the frames before it are written. */
class Frame {
  bytesIn = 0;
  readonly parts: Buffer[] = [];
  readonly done: Promise<void>;
  readonly #proc;
  #idle: NodeJS.Timeout | null = null;

  constructor(program: string, level: number) {
    // No shell; -q: no progress on stderr; -c: to stdout. The frame checksum stays on (zstd's default).
    this.#proc = execa(program, [`-${level}`, '-q', '-c', '-T1'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false, encoding: 'buffer' });
    let stderr = '';
    this.#proc.stdout.on('data', (d: Buffer) => this.parts.push(d));
    this.#proc.stderr.on('data', (d: Buffer) => {
      if (stderr.length < DefaultNativeZstdOptions.stderrBytes) stderr += d.toString('utf8');
    });
    // EPIPE when zstd died: the exit code below says why.
    this.#proc.stdin.on('error', () => undefined);
    this.done = this.#proc.then((r) => {
      if (r.exitCode !== 0) {
        throw new Error(`zstd (${program}) failed${r.exitCode !== undefined ? ` with exit code ${r.exitCode}` : ''}${r.signal ? ` (${r.signal})` : ''}: ${stderr.trim().slice(0, 500) || r.originalMessage || 'no message'}`);
      }
    });
    this.done.catch(() => undefined); // observed by the writer
    this.#armIdle();
  }

  async write(chunk: Buffer): Promise<void> {
    this.#armIdle();
    this.bytesIn += chunk.length;
    // Queue up to a window before waiting: the pipe takes 64 KiB at a time, and waiting
    // for every chunk to drain kept the file reads from overlapping with zstd (measured ~3× slower).
    // The archiver gives every chunk its own buffer, so queued chunks are never overwritten.
    this.#proc.stdin.write(chunk);
    if (this.#proc.stdin.writableLength < STDIN_WINDOW_BYTES) return;
    // Backpressure, unless zstd is gone: then its exit says why better than EPIPE does.
    try {
      await Promise.race([once(this.#proc.stdin, 'drain'), this.done.then(() => { throw new Error('zstd exited before reading its input'); })]);
    } catch (err) {
      await this.done;
      throw err;
    }
  }

  end(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#proc.stdin.end();
  }

  #armIdle(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.#proc.kill(), DefaultNativeZstdOptions.idleKillMs);
    this.#idle.unref();
  }
}

/** Same contract as FrameWriter: write() resolves when there is room for more; end() when all is written. */
export class NativeZstdWriter {
  #current: Frame | null = null;
  /** One promise per started frame: resolves once that frame is written out. */
  readonly #written: Promise<void>[] = [];
  #tail: Promise<void> = Promise.resolve();
  #error: unknown = null;
  readonly #frameBytes: number;
  readonly #processes: number;

  constructor(private readonly opts: NativeZstdOptions) {
    this.#frameBytes = opts.frameBytes ?? DefaultNativeZstdOptions.frameBytes;
    this.#processes = opts.processes ?? DefaultNativeZstdOptions.processes;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.#error !== null) {
      this.#finishCurrent();
      throw this.#error;
    }
    if (!this.#current) {
      // At most `processes` frames compressing or waiting to be written.
      while (this.#written.length >= this.#processes) await this.#written.shift();
      if (this.#error !== null) throw this.#error;
      this.#current = this.#start();
    }
    await this.#current.write(chunk);
    if (this.#current.bytesIn >= this.#frameBytes) this.#finishCurrent();
  }

  async end(): Promise<void> {
    if (this.#current) this.#finishCurrent();
    await this.#tail;
    if (this.#error !== null) throw this.#error;
  }

  #start(): Frame {
    const frame = new Frame(this.opts.program, this.opts.level);
    this.#tail = this.#tail.then(async () => {
      await frame.done;
      if (this.#error !== null) return;
      // zstd's stdout arrives in 64 KiB reads: hand them on in batches of about a chunk,
      // so hashing and the file write cost a few calls per frame, not one per pipe read.
      let batch: Buffer[] = [];
      let bytes = 0;
      for (const part of frame.parts) {
        batch.push(part);
        bytes += part.length;
        if (bytes >= OUTPUT_BATCH_BYTES) {
          await this.opts.output(Buffer.concat(batch, bytes));
          batch = [];
          bytes = 0;
        }
      }
      if (bytes) await this.opts.output(Buffer.concat(batch, bytes));
      frame.parts.length = 0;
    }).catch((err: unknown) => {
      this.#error ??= err;
    });
    this.#written.push(this.#tail);
    return frame;
  }

  #finishCurrent(): void {
    this.#current?.end();
    this.#current = null;
  }
}
