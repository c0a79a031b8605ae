/**
 * zstd through the system's `zstd` binary (POSIX), the default for backups when
 * it is installed: native zstd runs ~2× the WebAssembly build per core, and one
 * `zstd -T0` uses every core (bench/README.md, issue 14).
 *
 * The layout is what the measurements asked for:
 * - ONE zstd process per archive, started by a long-lived launcher shell
 *   (zstd-launcher.ts), never forked from the agent itself: on the measured VM a
 *   fork of the agent cost more CPU than compressing 100 MiB. The first version
 *   (one process per 32 MiB frame, spawned by node) ran at a quarter of WASM.
 * - Bounded frames all the same: zstd makes one frame per input file, so its
 *   command line names them: `d0 f0 d1 f1 d0 f0 …`. Node writes frame k+1 (8 MiB
 *   of tar) into f0/f1 (regular files: a pipe moves 64 KiB per wake-up, which
 *   halved zstd's speed here) while zstd compresses frame k, then rings the
 *   doorbell FIFO before it (opens and closes it; the open returns once zstd is
 *   done with everything before). Our WASM reader (compress.ts decompressStream)
 *   needs frames of bounded size, so any archive restores on an agent without
 *   zstd. Each doorbell reads as an empty frame (13 bytes), and so does each
 *   name left over at the end.
 * - zstd appends to the `.partial` itself: compressed bytes never cross node.
 *   sha256 is computed by reading the file back from the page cache behind zstd
 *   while it runs (bytes below the file's size are written), so the hash
 *   overlaps the compression. The caller's fsync + rename stay as they were.
 * - When the agent dies, the launcher's stdin ends and it kills its zstd, which
 *   would otherwise wait forever on a FIFO nobody opens (the agent's service
 *   unit keeps children on restart).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { EarlyWriteback } from './writeback.ts';
import { runErrors, type ZstdLauncher } from './zstd-launcher.ts';

export const DefaultNativeZstdOptions = {
  /**
   * Tar bytes per frame: bounds what a reader holds per frame (the WASM pool decompresses a
   * frame at once), and the page cache the two frame files take. zstd starts when the first
   * frame is written and ends a frame after the last: smaller frames overlap more.
   */
  frameBytes: 8 * 1024 * 1024,
  /**
   * Tar bytes per write into a frame file. Measured on 100 MiB against `tar | zstd -T0`
   * (same rounds): 512 KiB–2 MiB 0.98–1.03×, 4 MiB 0.85×, 8 MiB 0.8×, 256 KiB 0.86×:
   * small enough that reading, writing and hashing overlap, large enough to keep hops few.
   */
  chunkBytes: 1024 * 1024,
  /** Frame names on one command line; more frames continue in a second process. */
  maxSlots: 2048,
  /** Tar chunks queued for the FIFO before write() waits: file reads overlap zstd's reads. */
  windowChunks: 3,
  /** Compressed bytes hashed per read-back (a small buffer: fewer fresh pages to fault in). */
  hashReadBytes: 1024 * 1024,
  /** Keeps this much of zstd's stderr for the error message. */
  stderrBytes: 2048,
} as const;

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

export interface NativeZstdOptions {
  /** Starts the zstd processes (zstd-launcher.ts). */
  launcher: ZstdLauncher;
  level: number;
  /** The archive, opened for reading: zstd appends to it (by `filePath`), we read it back for the hash. */
  file: FileHandle;
  filePath: string;
  /** A private folder for the doorbell FIFOs and the two frame files; created, and removed by end()/abort(). */
  fifoDir: string;
  /** Tar bytes expected (the plan's): how many frame names the command line gets. */
  expectedBytes: number;
  /** Called with a chunk once it is in zstd's FIFO, so the caller can reuse its memory. */
  release?: (chunk: Buffer) => void;
  frameBytes?: number;
  maxSlots?: number;
}

class ZstdFailed extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** One zstd process (started by the launcher), compressing up to `slots` frames into the archive. */
class Segment {
  readonly exited: Promise<void>;
  readonly #dir: string;
  readonly #slots: number;
  readonly #kill: () => void;
  #next = 0;
  #exitedFlag = false;
  #files: [FileHandle | null, FileHandle | null] = [null, null];

  /** Use Segment.start(). */
  constructor(dir: string, slots: number, run: { exited: Promise<number>; kill: () => void }, program: string) {
    this.#dir = dir;
    this.#slots = slots;
    this.#kill = run.kill;
    this.exited = run.exited.then(async (code) => {
      this.#exitedFlag = true;
      if (code === 0) return;
      const msg = await runErrors(dir, DefaultNativeZstdOptions.stderrBytes);
      throw new ZstdFailed(`zstd (${program}) failed with exit code ${code}: ${msg || 'no message'}`, /No space left on device/i.test(msg) ? 'ENOSPC' : undefined);
    });
    this.exited.catch(() => undefined); // observed by the writer
  }

  static async start(o: { launcher: ZstdLauncher; level: number; filePath: string; dir: string; slots: number }): Promise<Segment> {
    // zstd appends to the archive through this link: the launcher gets no fd of ours.
    await fs.rm(path.join(o.dir, 'out'), { force: true });
    await fs.symlink(path.resolve(o.filePath), path.join(o.dir, 'out'));
    await fs.rm(path.join(o.dir, 'err'), { force: true });
    const run = await o.launcher.run(o.dir, o.level, o.slots);
    return new Segment(o.dir, o.slots, run, o.launcher.program);
  }

  get slotsLeft(): number {
    return this.#slots - this.#next;
  }

  /**
   * The next frame's file (f0, f1 in turn), to be written from offset 0; zstd reads it once
   * closeFrame() let it go on. Kept open and overwritten, not truncated and refilled: reusing
   * the same page-cache pages spares their allocation. Null when zstd is gone.
   */
  async openNext(): Promise<FileHandle | null> {
    if (this.#exitedFlag) return null;
    const i = this.#next++ % 2;
    this.#files[i] ??= await fs.open(path.join(this.#dir, `f${i}`), 'r+');
    return this.#files[i];
  }

  /**
   * The frame's file is complete: rings its doorbell (opens and closes the FIFO `d0` or `d1`).
   * That open returns once zstd opened it, so zstd is done with everything before it,
   * also with the file the next frame is written into. The doorbells alternate: zstd may
   * still hold the one it just read to its end, and a second ring of the same FIFO would
   * be taken by that stale reader and lost. False when zstd is gone.
   */
  async closeFrame(fh: FileHandle, length: number): Promise<boolean> {
    // zstd reads to the end of the file: cut what an earlier, longer frame left there.
    await fh.truncate(length);
    const name = path.join(this.#dir, `d${(this.#next - 1) % 2}`);
    const opening = fs.open(name, constants.O_WRONLY);
    // An open of a FIFO waits for a reader: if zstd died, be that reader so the open returns.
    void this.exited.then(() => undefined, () => undefined).then(() => this.#unblock(name));
    await (await opening).close();
    return !this.#exitedFlag;
  }

  async #unblock(name: string): Promise<void> {
    const r = await fs.open(name, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => null);
    await r?.close();
  }

  /** Gives zstd an empty frame for every unused slot, then waits for it. */
  async finish(): Promise<void> {
    while (this.slotsLeft > 0) {
      const fh = await this.openNext();
      if (!fh || !(await this.closeFrame(fh, 0))) break;
    }
    try {
      await this.exited;
    } finally {
      await this.#closeFiles();
    }
  }

  async #closeFiles(): Promise<void> {
    await Promise.all(this.#files.map((f) => f?.close().catch(() => undefined)));
    this.#files = [null, null];
  }

  /** Ends zstd at once and waits for it. */
  async kill(): Promise<void> {
    this.#kill();
    // A FIFO open of ours may still wait for zstd; be its reader.
    for (const d of ['d0', 'd1']) void this.#unblock(path.join(this.#dir, d));
    await this.exited.catch(() => undefined);
    await this.#closeFiles();
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
  #frame: FileHandle | null = null;
  #inFrame = 0;
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  #error: unknown = null;
  #wake: (() => void) | null = null;
  readonly #hash = createHash('sha256');
  #hashed = 0;
  #hashing: Promise<void> = Promise.resolve();
  #hashBuf: Buffer | null = null;
  readonly #writeback: EarlyWriteback;
  #bytesIn = 0;

  /** Use NativeZstdWriter.start(), which also starts zstd. */
  constructor(o: NativeZstdOptions) {
    this.#o = {
      frameBytes: DefaultNativeZstdOptions.frameBytes,
      maxSlots: DefaultNativeZstdOptions.maxSlots,
      ...o,
    };
    this.#writeback = new EarlyWriteback(o.file);
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
    return Segment.start({ launcher: this.#o.launcher, level: this.#o.level, filePath: this.#o.filePath, dir: this.#o.fifoDir, slots });
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
    if (!this.#frame) {
      if (this.#segment!.slotsLeft === 0) {
        // More frames than names: this process ends, the next one appends to the same file.
        await this.#segment!.finish();
        this.#segment = await this.#startSegment(Math.max(0, this.#o.expectedBytes - this.#bytesIn));
      }
      this.#frame = await this.#segment!.openNext();
      if (!this.#frame) {
        await this.#segment!.exited;
        throw new ZstdFailed(`zstd (${this.#o.launcher.program}) exited before reading its input`);
      }
      this.#inFrame = 0;
    }
    for (let off = 0; off < chunk.length;) off += (await this.#frame.write(chunk, off, chunk.length - off, this.#inFrame + off)).bytesWritten;
    this.#o.release?.(chunk);
    this.#bytesIn += chunk.length;
    this.#inFrame += chunk.length;
    if (this.#inFrame >= this.#o.frameBytes) await this.#closeFrame();
    this.#hashSome();
  }

  async #closeFrame(): Promise<void> {
    const f = this.#frame;
    this.#frame = null;
    if (f && !(await this.#segment!.closeFrame(f, this.#inFrame))) {
      await this.#segment!.exited;
      throw new ZstdFailed(`zstd (${this.#o.launcher.program}) exited before reading its input`);
    }
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
    this.#writeback.wrote(this.#hashed);
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
      // The tail's writeback beside the tail's hash: the caller's fsync then finds little to do.
      const syncing = this.#writeback.now();
      await this.#hashUpTo(size);
      await syncing;
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
    this.#frame = null; // the segment closes its files
    await this.#hashing.catch(() => undefined);
    await this.#writeback.idle();
    await fs.rm(this.#o.fifoDir, { recursive: true, force: true });
  }
}
