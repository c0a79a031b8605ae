import { constants, createWriteStream, type Stats } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../../protocol/index.ts';
import { errnoCode } from './fs-util.ts';
import { encodeHeader, paddingFor } from './tar.ts';
import type { PlanFile } from './walk.ts';

/**
 * How files are read for an archive while the game may still touch them:
 * small files are read whole and re-read until two stats agree; SQLite files
 * are copied together with their journals, again until nothing moved; large
 * files are streamed and reported as changed when their stat moved.
 */

export interface CopyOptions {
  signal?: AbortSignal;
  /** Waits for locked files come out of this; shared by every file of one archive. */
  budget: RetryBudget;
  lockedRetryDelayMs: number;
  smallFileBytes: number;
  rereads: number;
  tmpDir: string;
  beforeOpen?: (absPath: string, attempt: number) => Promise<void>;
}

/**
 * The time an archive may spend waiting for files, for all of them together:
 * a per-file retry loop turns 800 renamed-away files into 800 waits (issue 10
 * §10). Once it is used up, a wait is refused and the caller gives up on that
 * file at once.
 */
export class RetryBudget {
  #leftMs: number;
  readonly #clock: Clock;
  constructor(totalMs: number, clock: Clock) {
    this.#leftMs = totalMs;
    this.#clock = clock;
  }

  /** Waits `ms` if the budget still holds it; false (without waiting) when it does not. */
  async wait(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (ms > this.#leftMs) return false;
    this.#leftMs -= ms;
    await this.#clock.sleep(ms, signal);
    return true;
  }
}

export class FileChangedError extends Error {
  constructor(readonly size: number, readonly mtimeMs: number) {
    super('file changed while it was read');
  }
}

/**
 * Cuts the tar byte stream into fixed chunks that own their memory (so they can
 * move to a worker). A consumer that is done with a chunk may hand it back with
 * release(): a fresh 4 MiB buffer per chunk costs its page faults every time
 * (reading 100 MiB into fresh buffers measured 3× the time of reusing them).
 */
export class ChunkSink {
  #buf: Buffer;
  #pos = 0;
  readonly #size: number;
  readonly #emit: (chunk: Buffer) => Promise<void>;
  readonly #spare: Buffer[] = [];

  constructor(size: number, emit: (chunk: Buffer) => Promise<void>) {
    this.#size = size;
    this.#emit = emit;
    this.#buf = Buffer.allocUnsafeSlow(size);
  }

  /** Takes back a chunk this sink emitted, once its consumer no longer reads it. */
  release(chunk: Buffer): void {
    if (chunk.buffer.byteLength === this.#size && this.#spare.length < 8) this.#spare.push(Buffer.from(chunk.buffer, 0, this.#size));
  }

  async write(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, this.#size - this.#pos);
      this.#buf.set(data.subarray(off, off + n), this.#pos);
      this.#pos += n;
      off += n;
      if (this.#pos === this.#size) await this.#push();
    }
  }

  /** Reads up to `length` bytes of the file at `position` straight into the chunk; 0 at end of file. */
  async readFrom(fh: FileHandle, length: number, position: number): Promise<number> {
    let total = 0;
    while (total < length) {
      const want = Math.min(length - total, this.#size - this.#pos);
      const { bytesRead } = await fh.read(this.#buf, this.#pos, want, position + total);
      if (bytesRead === 0) break;
      this.#pos += bytesRead;
      total += bytesRead;
      if (this.#pos === this.#size) await this.#push();
    }
    return total;
  }

  async copyFrom(file: string, size: number): Promise<void> {
    const fh = await fs.open(file, 'r');
    try {
      const n = await this.readFrom(fh, size, 0);
      if (n !== size) throw new Error(`snapshot ${file} is shorter than expected`);
    } finally {
      await fh.close();
    }
  }

  async flush(): Promise<void> {
    if (this.#pos > 0) await this.#push();
  }

  async #push(): Promise<void> {
    const chunk = this.#pos === this.#size ? this.#buf : this.#buf.subarray(0, this.#pos);
    this.#buf = this.#spare.pop() ?? Buffer.allocUnsafeSlow(this.#size);
    this.#pos = 0;
    await this.#emit(chunk);
  }
}

/** A file another process holds open exclusively (Windows), worth a short wait. */
const LOCKED = process.platform === 'win32' ? new Set(['EBUSY', 'EPERM', 'EACCES']) : new Set(['EBUSY']);

/**
 * Read-only, not through a symbolic link and not waiting on a FIFO: the plan saw
 * a regular file here, and something else put in its place since (by the game,
 * or by whoever controls it) must not make the agent read another file into the
 * backup, or hang on a pipe. POSIX flags; Windows has neither (0).
 */
const OPEN_PLANNED = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Opens a file by name, with its stat as of the open (the "before" of a read).
 * Null at once when it is gone (ENOENT: the game renamed or deleted it; the
 * caller may look once more at the end of the archive), or no longer a regular
 * file; a locked file is retried while the archive's shared budget lasts.
 */
export async function openOrNull(absPath: string, opts: CopyOptions, attempt = 0): Promise<{ fh: FileHandle; stat: Stats } | null> {
  for (;;) {
    await opts.beforeOpen?.(absPath, attempt);
    try {
      return await openPlanned(absPath);
    } catch (err) {
      if (!LOCKED.has(errnoCode(err) ?? '') || !(await opts.budget.wait(opts.lockedRetryDelayMs, opts.signal))) throw err;
    }
  }
}

/** openOrNull without the waits: null when the file is gone or no longer a regular file (a link: ELOOP). */
async function openPlanned(absPath: string): Promise<{ fh: FileHandle; stat: Stats } | null> {
  let fh: FileHandle;
  try {
    fh = await fs.open(absPath, OPEN_PLANNED);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return null;
    throw err;
  }
  const stat = await fh.stat().catch(() => null);
  if (stat?.isFile()) return { fh, stat };
  await fh.close();
  return null;
}

function sameStat(a: { size: number; mtimeMs: number }, b: { size: number; mtimeMs: number }): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * One reusable buffer for the small files of an archive: a fresh buffer per file
 * costs its page faults every time (expensive on virtual machines; bench/README.md).
 */
export class Scratch {
  #buf = Buffer.alloc(0);
  /** A buffer of at least n bytes; what it holds is valid until the next take(). */
  take(n: number): Buffer {
    if (this.#buf.length < n) this.#buf = Buffer.allocUnsafeSlow(Math.max(n, Math.min(2 * this.#buf.length, 16 * 1024 * 1024)));
    return this.#buf;
  }
}

/**
 * The whole file into `buf`, up to its length: a file that grew reads as longer than its stat said.
 * Reads until one returns nothing: FUSE and network file systems may return short reads before the end.
 */
async function readInto(fh: FileHandle, buf: Buffer): Promise<Buffer> {
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return buf.subarray(0, n);
}

/**
 * Reads a small file whole, re-reading while it changes under us. Null when it vanished (renamed away
 * mid-save counts too). With `scratch`, the data is a view of it: use it before the next read.
 */
export async function readStable(file: PlanFile, opts: CopyOptions, attempt = 0, scratch?: Scratch): Promise<{ data: Buffer; mtimeMs: number; unstable: boolean } | null> {
  let last: { data: Buffer; mtimeMs: number } | null = null;
  for (let i = 0; i <= opts.rereads; i++) {
    const opened = await openOrNull(file.absPath, opts, attempt);
    if (!opened) return null;
    const { fh, stat: before } = opened;
    try {
      // One byte more than the stat says, so a file that grew shows as longer (then the stats differ too).
      const data = scratch ? await readInto(fh, scratch.take(before.size + 1).subarray(0, before.size + 1)) : await fh.readFile();
      const after = await fh.stat();
      if (sameStat(before, after) && data.length === after.size) return { data, mtimeMs: after.mtimeMs, unstable: false };
      last = { data, mtimeMs: after.mtimeMs };
    } finally {
      // Not awaited: the next file need not wait for this one's close (one wait less per small file).
      void fh.close().catch(() => undefined);
    }
  }
  return { ...last!, unstable: true };
}

/** Has the zstd binary read an open file itself (ArchiveOutput.direct); `read` settles once it is past it. */
export type DirectRead = (file: FileHandle) => Promise<{ read: Promise<void> }>;

/**
 * A large file the zstd binary reads itself: its bytes never cross node. The
 * header goes through the sink; the file stays open, and zstd reads that very
 * file through its /proc link. Once zstd is past it, `stable` says whether its
 * stat still is what the header announced (else zstd may have read other
 * bytes, and the attempt is dirty, as with streamFile). Null when it vanished.
 */
export async function directFile(file: PlanFile, sink: ChunkSink, direct: DirectRead, opts: CopyOptions, attempt = 0): Promise<{ size: number; mtimeMs: number; stable: Promise<boolean> } | null> {
  const opened = await openOrNull(file.absPath, opts, attempt);
  if (!opened) return null;
  const { fh, stat: before } = opened;
  let handedOver = false;
  try {
    await sink.write(encodeHeader({ path: file.archivePath, type: 'file', size: before.size, mode: file.mode, mtime: before.mtimeMs }));
    await sink.flush(); // the header goes to zstd before the file
    const { read } = await direct(fh);
    handedOver = true;
    const stable = read
      .then(async () => sameStat(before, await fh.stat()))
      .catch(() => false)
      .finally(() => fh.close().catch(() => undefined));
    await sink.write(Buffer.alloc(paddingFor(before.size)));
    return { size: before.size, mtimeMs: before.mtimeMs, stable };
  } finally {
    if (!handedOver) await fh.close();
  }
}

/** Streams a large file into the tar. Throws FileChangedError (after writing a complete entry) when it moved. */
export async function streamFile(file: PlanFile, sink: ChunkSink, opts: CopyOptions, onBytes: (n: number) => void, attempt = 0): Promise<{ size: number; mtimeMs: number } | null> {
  const opened = await openOrNull(file.absPath, opts, attempt);
  if (!opened) return null;
  const { fh, stat: before } = opened;
  try {
    const size = before.size;
    await sink.write(encodeHeader({ path: file.archivePath, type: 'file', size, mode: file.mode, mtime: before.mtimeMs }));
    let pos = 0;
    while (pos < size) {
      opts.signal?.throwIfAborted();
      const n = await sink.readFrom(fh, Math.min(size - pos, 16 * 1024 * 1024), pos);
      if (n === 0) break;
      pos += n;
      onBytes(n);
    }
    // A file that shrank still needs a complete entry to keep the tar aligned; the attempt is discarded anyway.
    for (let left = size - pos; left > 0; left -= 1 << 20) await sink.write(Buffer.alloc(Math.min(left, 1 << 20)));
    await sink.write(Buffer.alloc(paddingFor(size)));
    const after = await fh.stat();
    if (pos < size || !sameStat(before, after)) throw new FileChangedError(size, before.mtimeMs);
    return { size, mtimeMs: before.mtimeMs };
  } finally {
    await fh.close();
  }
}

export interface GroupMember {
  file: PlanFile;
  size: number;
  mtimeMs: number;
  data?: Buffer;
  tmpPath?: string;
}

/** The file's own stat (not a link's target); null when it is gone or not a regular file. */
async function statOrNull(p: string): Promise<{ size: number; mtimeMs: number; ino: number } | null> {
  try {
    const st = await fs.lstat(p);
    if (!st.isFile()) return null;
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Copies a SQLite database with its -wal/-shm/-journal as one consistent
 * group: stat everything, copy everything, stat again, and repeat while
 * anything moved. A checkpoint between copying the db and its -wal would
 * otherwise give a database that is older than its journal expects.
 * `vanished` when the database itself is gone (no wait: see openOrNull).
 */
export async function snapshotGroup(base: PlanFile, opts: CopyOptions, firstAttempt = 0): Promise<{ members: GroupMember[]; unstable: boolean; vanished: boolean; cleanup: () => Promise<void> }> {
  const all = [base, ...base.companions];
  let tmpFiles: string[] = [];
  const cleanup = async () => {
    await Promise.all(tmpFiles.map((f) => fs.rm(f, { force: true })));
    tmpFiles = [];
  };
  let members: GroupMember[] = [];
  for (let attempt = 0; attempt <= opts.rereads; attempt++) {
    opts.signal?.throwIfAborted();
    await cleanup();
    await opts.beforeOpen?.(base.absPath, firstAttempt + attempt);
    const before = await Promise.all(all.map((f) => statOrNull(f.absPath)));
    if (!before[0]) return { members: [], unstable: false, vanished: true, cleanup };
    members = [];
    let broken = false;
    for (const [i, f] of all.entries()) {
      const st = before[i];
      if (!st) continue;
      try {
        // Read through a handle opened as the plan's files are (no link followed, no FIFO waited on).
        const opened = await openPlanned(f.absPath);
        if (!opened) {
          broken = true; // gone, or replaced by something else, since the stat: take the group again
          continue;
        }
        try {
          if (st.size <= opts.smallFileBytes) {
            const data = await opened.fh.readFile();
            members.push({ file: f, size: data.length, mtimeMs: st.mtimeMs, data });
          } else {
            await fs.mkdir(opts.tmpDir, { recursive: true });
            // Not the file's own name: a 255-byte save name plus a prefix is longer than a name may be.
            const tmpPath = path.join(opts.tmpDir, `snap-${process.pid}-${Date.now().toString(36)}-${i}.db`);
            tmpFiles.push(tmpPath);
            await pipeline(opened.fh.createReadStream({ autoClose: false, start: 0, highWaterMark: 1 << 20 }), createWriteStream(tmpPath));
            const size = (await fs.stat(tmpPath)).size;
            members.push({ file: f, size, mtimeMs: st.mtimeMs, tmpPath });
          }
        } finally {
          await opened.fh.close();
        }
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') {
          await cleanup(); // a full disk in tmpDir must not keep the partial snapshot
          throw err;
        }
        broken = true; // a journal disappeared mid-copy (checkpoint on close): take the group again
      }
    }
    const after = await Promise.all(all.map((f) => statOrNull(f.absPath)));
    const stable = !broken && before.every((b, i) => {
      const a = after[i] ?? null;
      if (b === null || a === null) return b === a;
      return sameStat(a, b) && a.ino === b.ino;
    });
    if (stable) return { members, unstable: false, vanished: false, cleanup };
  }
  return { members, unstable: true, vanished: false, cleanup };
}
