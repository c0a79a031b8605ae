/**
 * zstd through the system's `zstd` binary (POSIX), the default for backups when
 * it is installed: native zstd runs ~2× the WebAssembly build per core, and one
 * `zstd -T0` uses every core (bench/README.md, issue 14).
 *
 * The layout is what the measurements asked for:
 * - ONE zstd process per archive. Every spawn forks the agent (fork copies its
 *   page tables; ~70 ms of CPU per process at load), and one process per 32 MiB
 *   frame cost more than the compression itself.
 * - Bounded frames all the same: zstd makes one frame per input file, so its
 *   inputs are two FIFOs named alternately on its command line (`a b a b …`, one
 *   name per frame); node writes 32 MiB of tar into one, closes it, and goes on
 *   with the other. Our WASM reader (compress.ts decompressStream) needs frames
 *   of bounded size, so any archive restores on an agent without zstd.
 *   Alternating two names is race-free: node opens the next FIFO only after
 *   zstd finished the previous one, which it opened before.
 * - zstd writes the archive file itself (its stdout is the `.partial`'s fd):
 *   compressed bytes never cross node. sha256 is computed by reading the file
 *   back from the page cache behind zstd while it runs (bytes below the file's
 *   size are written), so the hash overlaps the compression. The caller's
 *   fsync + rename stay as they were.
 * - A watchdog in the wrapper shell kills zstd when the agent dies (its stdin, a
 *   pipe from us, reaches EOF): zstd would otherwise wait forever on a FIFO
 *   nobody opens, as the agent's service unit keeps children on restart.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';

export const DefaultNativeZstdOptions = {
  /** Tar bytes per frame: bounds what a reader holds per frame (the WASM pool decompresses a frame at once). */
  frameBytes: 32 * 1024 * 1024,
  /** Frame names on one command line; more frames continue in a second process. */
  maxSlots: 2048,
  /** Tar chunks queued for the FIFO before write() waits: file reads overlap zstd's reads. */
  windowChunks: 3,
  /** Compressed bytes hashed per read-back (a small buffer: fewer fresh pages to fault in). */
  hashReadBytes: 1024 * 1024,
  /** Keeps this much of zstd's stderr for the error message. */
  stderrBytes: 2048,
} as const;

/** Oldest zstd known to take FIFOs as inputs (older ones skip them as "not a regular file"). */
const MIN_VERSION = [1, 4, 0] as const;

/** The zstd binary on PATH, or null: then the WASM pool compresses. Not on Windows (no FIFOs, no sh). */
export function findZstd(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | null {
  if (platform === 'win32') return null;
  const dirs = (env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of dirs) {
    const file = path.join(dir, 'zstd');
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** True when `zstd -V` names a version that reads FIFOs; false for anything else (then WASM compresses). */
export async function zstdUsable(program: string): Promise<boolean> {
  try {
    const p = spawn(program, ['-V'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const [code] = (await once(p, 'close')) as [number | null];
    const m = /v(\d+)\.(\d+)\.(\d+)/.exec(out);
    if (code !== 0 || !m) return false;
    const v = [Number(m[1]), Number(m[2]), Number(m[3])];
    for (let i = 0; i < 3; i++) if (v[i] !== MIN_VERSION[i]) return v[i]! > MIN_VERSION[i]!;
    return true;
  } catch {
    return false;
  }
}

export interface NativeZstdOptions {
  /** Path of the zstd binary (findZstd). */
  program: string;
  level: number;
  /** The archive, opened for reading and writing: zstd appends to it, we read it back for the hash. */
  file: FileHandle;
  /** A private folder for the two FIFOs; created, and removed by end()/abort(). */
  fifoDir: string;
  /** Tar bytes expected (the plan's): how many frame names the command line gets. */
  expectedBytes: number;
  /** Called with a chunk once it is in zstd's FIFO, so the caller can reuse its memory. */
  release?: (chunk: Buffer) => void;
  frameBytes?: number;
  maxSlots?: number;
}

/**
 * `sh -c` program: $0 = zstd, "$@" = its arguments. Creates the FIFOs (unless a
 * previous process of this archive did), starts zstd, says "ready" on fd 3, and
 * kills zstd when its own stdin (our pipe) ends before zstd did: the agent died.
 */
const WRAPPER = [
  'exec 4<&0',
  '[ -p a ] || mkfifo -m 600 a b || exit 97',
  // zstd and the watchdog keep none of our pipes but what they need: the wrapper's exit ends the run.
  '"$0" "$@" </dev/null 3>&- 4<&- &',
  'z=$!',
  '{ cat >/dev/null; kill -9 "$z"; } <&4 >/dev/null 2>&1 3>&- 4<&- &',
  'w=$!',
  'echo ready >&3',
  'exec 3>&-',
  'wait "$z"; s=$?',
  'kill "$w" 2>/dev/null',
  'exit "$s"',
].join('\n');

class ZstdFailed extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** One wrapper + zstd process, compressing up to `slots` frames into the archive. */
class Segment {
  readonly exited: Promise<void>;
  readonly #proc: ChildProcess;
  readonly #dir: string;
  readonly #names: string[];
  #next = 0;
  #stderr = '';
  #exitedFlag = false;

  private constructor(proc: ChildProcess, dir: string, names: string[], program: string) {
    this.#proc = proc;
    this.#dir = dir;
    this.#names = names;
    proc.stderr!.on('data', (d: Buffer) => {
      if (this.#stderr.length < DefaultNativeZstdOptions.stderrBytes) this.#stderr += d.toString('utf8');
    });
    // EPIPE on our watchdog pipe when the wrapper is gone: its exit says why.
    proc.stdin!.on('error', () => undefined);
    this.exited = new Promise<void>((resolve, reject) => {
      proc.on('error', (err) => reject(err));
      proc.on('close', (code, signal) => {
        this.#exitedFlag = true;
        proc.stdin!.destroy();
        if (code === 0) return resolve();
        const msg = this.#stderr.trim().slice(0, 500);
        const detail = code === 97 ? `could not create FIFOs in ${dir}` : msg || 'no message';
        reject(new ZstdFailed(`zstd (${program}) failed${code !== null ? ` with exit code ${code}` : ''}${signal ? ` (${signal})` : ''}: ${detail}`, /No space left on device/i.test(msg) ? 'ENOSPC' : undefined));
      });
    });
    this.exited.catch(() => undefined); // observed by the writer
  }

  static async start(o: { program: string; level: number; file: FileHandle; dir: string; slots: number }): Promise<Segment> {
    const names = Array.from({ length: o.slots }, (_, i) => (i % 2 ? 'b' : 'a'));
    // No shell parsing of our values: the program and the names are positional parameters.
    const proc = spawn('/bin/sh', ['-c', WRAPPER, o.program, `-${o.level}`, '-T0', '-q', '-c', '--', ...names], {
      cwd: o.dir,
      stdio: ['pipe', o.file.fd, 'pipe', 'pipe'],
      // Only what the wrapper needs: the agent's secrets stay with the agent. C locale: English errors (ENOSPC below).
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    const seg = new Segment(proc, o.dir, names, o.program);
    const ready = proc.stdio[3] as Readable;
    ready.resume();
    // Ready (FIFOs exist, zstd started) or the wrapper ended first: then its exit says why.
    await Promise.race([once(ready, 'data'), seg.exited.then(() => { throw new ZstdFailed(`zstd (${o.program}) exited before reading its input`); })]);
    return seg;
  }

  get slotsLeft(): number {
    return this.#names.length - this.#next;
  }

  /** Opens the next frame's FIFO for writing (blocks until zstd opens it); null when zstd is gone. */
  async openNext(): Promise<FileHandle | null> {
    const name = path.join(this.#dir, this.#names[this.#next++]!);
    const opening = fs.open(name, constants.O_WRONLY);
    // An open of a FIFO waits for a reader: if zstd died, be that reader so the open returns.
    const onExit = this.exited.then(() => undefined, () => undefined).then(() => this.#unblock(name));
    const fh = await opening;
    void onExit;
    if (this.#exitedFlag) {
      await fh.close();
      return null;
    }
    return fh;
  }

  async #unblock(name: string): Promise<void> {
    const r = await fs.open(name, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => null);
    await r?.close();
  }

  /** Gives zstd an empty input for every unused name (each becomes an empty frame), then waits for it. */
  async finish(): Promise<void> {
    while (this.slotsLeft > 0) {
      const fh = await this.openNext();
      if (!fh) break;
      await fh.close();
    }
    await this.exited;
  }

  /** Ends zstd at once (the watchdog kills it when our pipe closes) and waits for the wrapper. */
  async kill(): Promise<void> {
    this.#proc.stdin!.end();
    // A FIFO open of ours may still wait for zstd; be its reader.
    for (const n of ['a', 'b']) void this.#unblock(path.join(this.#dir, n));
    await this.exited.catch(() => undefined);
  }
}

/**
 * Takes tar chunks in order and has them compressed into `file` by one zstd
 * process (or a few, for archives of more than maxSlots frames). end() returns
 * the archive's size and sha256; the caller fsyncs and renames.
 */
export class NativeZstdWriter {
  readonly #o: Required<Omit<NativeZstdOptions, 'release'>> & Pick<NativeZstdOptions, 'release'>;
  #segment: Segment | null = null;
  #fifo: FileHandle | null = null;
  #inFrame = 0;
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  #error: unknown = null;
  #wake: (() => void) | null = null;
  readonly #hash = createHash('sha256');
  #hashed = 0;
  #hashing: Promise<void> = Promise.resolve();
  #hashBuf: Buffer | null = null;
  #bytesIn = 0;

  private constructor(o: NativeZstdOptions) {
    this.#o = {
      frameBytes: DefaultNativeZstdOptions.frameBytes,
      maxSlots: DefaultNativeZstdOptions.maxSlots,
      ...o,
    };
  }

  /** Starts zstd. Rejects (nothing written) when it cannot: the caller then compresses with WASM. */
  static async start(o: NativeZstdOptions): Promise<NativeZstdWriter> {
    const w = new NativeZstdWriter(o);
    await fs.mkdir(o.fifoDir, { recursive: true });
    w.#segment = await w.#startSegment(o.expectedBytes);
    return w;
  }

  async #startSegment(bytesLeft: number): Promise<Segment> {
    // One name per expected frame, a quarter more for files that grew, and at least two.
    const slots = Math.min(this.#o.maxSlots, Math.max(2, Math.ceil((bytesLeft * 1.25) / this.#o.frameBytes) + 1));
    return Segment.start({ program: this.#o.program, level: this.#o.level, file: this.#o.file, dir: this.#o.fifoDir, slots });
  }

  /** Queues one chunk; resolves when there is room for another. Throws zstd's failure. */
  async write(chunk: Buffer): Promise<void> {
    if (this.#error !== null) throw this.#error;
    this.#queued++;
    this.#tail = this.#tail.then(() => this.#put(chunk)).catch((err: unknown) => {
      this.#error ??= err;
    }).finally(() => {
      this.#queued--;
      this.#wake?.();
    });
    while (this.#queued >= DefaultNativeZstdOptions.windowChunks && this.#error === null) {
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = null;
    }
    if (this.#error !== null) throw this.#error;
  }

  async #put(chunk: Buffer): Promise<void> {
    if (this.#error !== null) return;
    if (!this.#fifo) {
      if (this.#segment!.slotsLeft === 0) {
        // More frames than names: this process ends, the next one appends to the same file.
        await this.#segment!.finish();
        this.#segment = await this.#startSegment(Math.max(0, this.#o.expectedBytes - this.#bytesIn));
      }
      this.#fifo = await this.#segment!.openNext();
      if (!this.#fifo) {
        await this.#segment!.exited;
        throw new ZstdFailed(`zstd (${this.#o.program}) exited before reading its input`);
      }
      this.#inFrame = 0;
    }
    try {
      for (let off = 0; off < chunk.length;) off += (await this.#fifo.write(chunk, off, chunk.length - off)).bytesWritten;
    } catch (err) {
      // EPIPE: zstd is gone; its exit status says why.
      await this.#segment!.exited;
      throw err;
    }
    this.#o.release?.(chunk);
    this.#bytesIn += chunk.length;
    this.#inFrame += chunk.length;
    if (this.#inFrame >= this.#o.frameBytes) await this.#closeFrame();
    this.#hashSome();
  }

  async #closeFrame(): Promise<void> {
    const f = this.#fifo;
    this.#fifo = null;
    await f?.close();
  }

  /** Hashes what zstd has written so far, behind it, one read-back at a time. */
  #hashSome(): void {
    this.#hashing = this.#hashing.then(() => this.#hashUpTo(null));
    this.#hashing.catch(() => undefined); // rethrown by end()
  }

  async #hashUpTo(end: number | null): Promise<void> {
    const file = this.#o.file;
    const size = end ?? (await file.stat()).size;
    this.#hashBuf ??= Buffer.allocUnsafeSlow(DefaultNativeZstdOptions.hashReadBytes);
    while (this.#hashed < size) {
      const { bytesRead } = await file.read(this.#hashBuf, 0, Math.min(this.#hashBuf.length, size - this.#hashed), this.#hashed);
      if (bytesRead === 0) throw new Error(`archive ${path.basename(this.#o.fifoDir)} shrank while it was hashed`);
      this.#hash.update(this.#hashBuf.subarray(0, bytesRead));
      this.#hashed += bytesRead;
    }
  }

  /** All chunks given: closes the inputs, waits for zstd, hashes the rest. Size and sha256 of the archive. */
  async end(): Promise<{ size: number; sha256: string }> {
    try {
      await this.#tail;
      if (this.#error !== null) throw this.#error;
      await this.#closeFrame();
      await this.#segment!.finish();
      await this.#hashing;
      const size = (await this.#o.file.stat()).size;
      await this.#hashUpTo(size);
      return { size, sha256: this.#hash.digest('hex') };
    } catch (err) {
      await this.abort();
      throw err;
    } finally {
      await fs.rm(this.#o.fifoDir, { recursive: true, force: true });
    }
  }

  /** Stops zstd after a failure elsewhere; the caller removes the partial file. */
  async abort(): Promise<void> {
    this.#error ??= new Error('archive aborted');
    await this.#segment?.kill();
    await this.#tail.catch(() => undefined);
    await this.#fifo?.close().catch(() => undefined);
    this.#fifo = null;
    await this.#hashing.catch(() => undefined);
    await fs.rm(this.#o.fifoDir, { recursive: true, force: true });
  }
}
