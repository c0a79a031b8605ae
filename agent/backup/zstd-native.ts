/**
 * zstd through the system's `zstd` binary (POSIX), the default for backups when
 * it is installed (bench/README.md, issue 14).
 *
 * The layout is what the measurements asked for:
 * - ONE zstd process per archive, started by a long-lived launcher shell
 *   (zstd-launcher.ts), never forked from the agent itself: on the measured VM a
 *   fork of the agent cost more CPU than compressing 100 MiB.
 * - zstd reads large save files itself (direct(), Linux): copying them through
 *   node (read, then write into a file zstd reads) was most of a backup's time.
 *   It opens them through /proc/<pid>/fd links to the files the archiver holds
 *   open, so it reads the very file whose size the tar header announced, even
 *   if the game renames or replaces the path meanwhile; the archiver compares
 *   the file's stat once zstd is past it. Each such file is one zstd frame, of
 *   any size: our reader streams big frames (zstd-read.ts).
 * - Everything else (tar headers, small files) node writes into frame files of
 *   at most 8 MiB, so those frames stay bounded. zstd makes one frame per input,
 *   and its command line names the slots in turn (zstd-segment.ts: doorbell
 *   FIFOs, frame files, links). Node fills frames ahead of zstd.
 * - zstd appends to the `.partial` itself: compressed bytes never cross node.
 *   sha256 is computed by reading the file back from the page cache behind zstd
 *   while it runs (bytes below the file's size are written), so the hash
 *   overlaps the compression. The caller's fsync + rename stay as they were.
 * - When the agent dies, the launcher's stdin ends and it kills its zstd, which
 *   would otherwise wait forever on a FIFO nobody opens (the agent's service
 *   unit keeps children on restart).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { EarlyWriteback } from './writeback.ts';
import type { ZstdLauncher } from './zstd-launcher.ts';
import { Segment, ZstdFailed } from './zstd-segment.ts';

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
  /**
   * Frame files (and doorbells): node fills up to ways - 1 frames ahead of zstd. With two,
   * node could only fill the next frame, then waited, and a folder of small files (read
   * through node) did not overlap zstd reading a large file itself.
   */
  ways: 4,
  /** Tar chunks queued for the FIFO before write() waits: file reads overlap zstd's reads. */
  windowChunks: 3,
  /** Compressed bytes hashed per read-back (a small buffer: fewer fresh pages to fault in). */
  hashReadBytes: 1024 * 1024,
  /** While zstd reads a save file itself, how often its new output is hashed (and written back). */
  followMs: 10,
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

/**
 * Names another process can open to read the very file one of our fds is open on:
 * Linux's /proc/<pid>/fd/<fd> opens our file's inode, not its path, so a file
 * renamed, replaced or swapped for a link since we opened it cannot put other
 * bytes in the archive. Null where there is no such thing: then zstd reads
 * nothing by itself.
 */
export function fdLinker(platform: NodeJS.Platform = process.platform): ((fd: number) => string) | null {
  if (platform !== 'linux') return null;
  procFd ??= existsSync('/proc/self/fd');
  return procFd ? (fd) => `/proc/${process.pid}/fd/${fd}` : null;
}
let procFd: boolean | undefined;

export interface NativeZstdOptions {
  /** Starts the zstd processes (zstd-launcher.ts). */
  launcher: ZstdLauncher;
  level: number;
  /** The archive, opened for reading: zstd appends to it (by `filePath`), we read it back for the hash. */
  file: FileHandle;
  filePath: string;
  /** A private folder for the doorbell FIFOs and the two frame files; created, and removed by end()/abort(). */
  fifoDir: string;
  /** Tar bytes expected through write() (the plan's): how many frame names the command line gets. */
  expectedBytes: number;
  /** Files expected through direct(): each takes a name, and may split a frame. */
  expectedDirect?: number;
  /** Called with a chunk once it is in zstd's FIFO, so the caller can reuse its memory. */
  release?: (chunk: Buffer) => void;
  frameBytes?: number;
  maxSlots?: number;
  ways?: number;
}

/**
 * Takes tar chunks in order and has them compressed into `file` by one zstd
 * process (or a few, for archives of more than maxSlots frames). end() returns
 * the archive's size and sha256; the caller fsyncs and renames.
 */
export class NativeZstdWriter {
  readonly #o: Required<Omit<NativeZstdOptions, 'release' | 'expectedDirect'>> & Pick<NativeZstdOptions, 'release'>;
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
  #directLeft: number;

  /** Use NativeZstdWriter.start(), which also starts zstd. */
  constructor(o: NativeZstdOptions) {
    this.#o = {
      frameBytes: DefaultNativeZstdOptions.frameBytes,
      maxSlots: DefaultNativeZstdOptions.maxSlots,
      ways: DefaultNativeZstdOptions.ways,
      ...o,
    };
    this.#writeback = new EarlyWriteback(o.file);
    this.#directLeft = o.expectedDirect ?? 0;
  }

  /** Starts zstd. Rejects (nothing written) when it cannot: the caller then compresses with WASM. */
  static async start(o: NativeZstdOptions): Promise<NativeZstdWriter> {
    const w = new NativeZstdWriter(o);
    await fs.mkdir(o.fifoDir, { recursive: true });
    w.#segment = await w.#startSegment(o.expectedBytes);
    return w;
  }

  async #startSegment(bytesLeft: number): Promise<Segment> {
    // One name per expected frame, a quarter more for files that grew, and at least two; a file
    // zstd reads itself takes a name and may cut a frame in two.
    const frames = Math.ceil((bytesLeft * 1.25) / this.#o.frameBytes) + 1 + 2 * this.#directLeft;
    const slots = Math.min(this.#o.maxSlots, Math.max(2, frames));
    return Segment.start({ launcher: this.#o.launcher, level: this.#o.level, filePath: this.#o.filePath, dir: this.#o.fifoDir, slots, ways: this.#o.ways, stderrBytes: DefaultNativeZstdOptions.stderrBytes });
  }

  /** More slots than names: this process ends, the next one appends to the same file. */
  async #nextSegmentIfFull(): Promise<void> {
    if (this.#segment!.slotsLeft > 0) return;
    await this.#segment!.finish();
    this.#segment = await this.#startSegment(Math.max(0, this.#o.expectedBytes - this.#bytesIn));
  }

  /** Queues one chunk; resolves when there is room for another. Throws zstd's failure. */
  write(chunk: Buffer): Promise<void> {
    return this.#enqueue(() => this.#put(chunk));
  }

  /**
   * zstd reads a file itself, after the bytes written so far: none of its bytes cross node
   * (the copy through node was most of a backup's time; bench/README.md). `target` is the
   * name zstd opens: the caller's /proc link to the file it holds open, so zstd reads that
   * very file, whatever happens to its path. Resolves when queued; `read` settles once zstd
   * is past the file (or gone): only then may the caller check its stat and close it.
   */
  async direct(target: string): Promise<{ read: Promise<void> }> {
    let settle!: () => void;
    const read = new Promise<void>((r) => (settle = r));
    try {
      await this.#enqueue(async () => {
        try {
          // Not awaited: the next frame is written while zstd reads this file.
          void (await this.#putDirect(target)).past.then(settle);
        } catch (err) {
          settle();
          throw err;
        }
      }, settle);
    } catch (err) {
      settle();
      throw err;
    }
    return { read };
  }

  async #putDirect(target: string): Promise<{ past: Promise<void> }> {
    if (this.#error !== null) return { past: Promise.resolve() };
    await this.#closeFrame(); // the file's tar header ends a frame
    await this.#nextSegmentIfFull();
    this.#directLeft = Math.max(0, this.#directLeft - 1);
    const segment = this.#segment!;
    const slot = await segment.direct(target);
    if (slot === null) {
      await segment.exited;
      throw new ZstdFailed(`zstd (${this.#o.launcher.program}) exited before reading its input`);
    }
    // Node writes nothing while zstd reads the file, so nothing would start the hash or the
    // writeback behind it: follow its output on a timer meanwhile.
    const past = segment.past(slot);
    const follow = setInterval(() => this.#hashSome(), DefaultNativeZstdOptions.followMs);
    follow.unref();
    void past.finally(() => clearInterval(follow));
    this.#hashSome();
    return { past };
  }

  /** Runs `job` after the ones before; resolves when there is room for another. `skipped`: called if the job never runs. */
  async #enqueue(job: () => Promise<void>, skipped?: () => void): Promise<void> {
    if (this.#error !== null) throw this.#error;
    this.#queued++;
    this.#tail = this.#tail.then(() => (this.#error === null ? job() : skipped?.())).catch((err: unknown) => {
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
      await this.#nextSegmentIfFull();
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
