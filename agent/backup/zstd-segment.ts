import { constants } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { runErrors, type ZstdLauncher } from './zstd-launcher.ts';

/**
 * One zstd process (started by the launcher, zstd-launcher.ts) compressing a
 * fixed number of input slots into the archive, in order. zstd's command line
 * is `d0 x0 d1 x1 … d<w-1> x<w-1> d0 x0 …` (`w` ways): for slot `s`, the
 * doorbell FIFO `d<s%w>`, then whatever the link `x<s%w>` points at, its frame
 * file `f<s%w>` (tar bytes node wrote) or a save file zstd reads itself.
 *
 * Ringing a doorbell is opening and closing it; the open returns once zstd
 * opened it, so zstd is done with every slot before (past()). A way is reused
 * only once zstd is past the slot that used it before, so node fills up to
 * `w - 1` frames ahead of zstd. Rings run one after another, behind node's
 * writing. Each doorbell reads as an empty frame (13 bytes), and so does each
 * unused slot at the end (finish()).
 */

export class ZstdFailed extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

export interface SegmentOptions {
  launcher: ZstdLauncher;
  level: number;
  /** The archive: zstd appends to it through a link. */
  filePath: string;
  /** The private folder of the FIFOs, frame files and links. */
  dir: string;
  slots: number;
  ways: number;
  /** Keeps this much of zstd's stderr for the error message. */
  stderrBytes: number;
}

export class Segment {
  readonly exited: Promise<void>;
  readonly #dir: string;
  readonly #slots: number;
  readonly #ways: number;
  readonly #kill: () => void;
  #next = 0;
  #exitedFlag = false;
  #files: Array<FileHandle | null>;
  /** What each `x<i>` points at: `f<i>`, or a save file zstd reads itself. */
  readonly #links: string[];
  /** zstd is past every slot below this one. */
  #past = 0;
  #pastWaiters: Array<{ slot: number; resolve: () => void }> = [];
  /** Rings in slot order, one at a time. */
  #rings: Promise<void> = Promise.resolve();

  /** Use Segment.start(). */
  constructor(o: SegmentOptions, run: { exited: Promise<number>; kill: () => void }) {
    this.#dir = o.dir;
    this.#slots = o.slots;
    this.#ways = o.ways;
    this.#kill = run.kill;
    this.#files = new Array<FileHandle | null>(o.ways).fill(null);
    this.#links = Array.from({ length: o.ways }, (_, i) => `f${i}`);
    this.exited = run.exited.then(async (code) => {
      this.#exitedFlag = true;
      this.#passed(Infinity);
      if (code === 0) return;
      const msg = await runErrors(o.dir, o.stderrBytes);
      throw new ZstdFailed(`zstd (${o.launcher.program}) failed with exit code ${code}: ${msg || 'no message'}`, /No space left on device/i.test(msg) ? 'ENOSPC' : undefined);
    });
    this.exited.catch(() => undefined); // observed by the writer
  }

  static async start(o: SegmentOptions): Promise<Segment> {
    // zstd appends to the archive through this link: the launcher gets no fd of ours.
    await fs.rm(path.join(o.dir, 'out'), { force: true });
    await fs.symlink(path.resolve(o.filePath), path.join(o.dir, 'out'));
    await fs.rm(path.join(o.dir, 'err'), { force: true });
    // The links are made here, not by the launcher: each `ln` there is a process, and a
    // process start costs milliseconds.
    for (let i = 0; i < o.ways; i++) {
      await fs.rm(path.join(o.dir, `x${i}`), { force: true });
      await fs.symlink(`f${i}`, path.join(o.dir, `x${i}`));
    }
    const run = await o.launcher.run(o.dir, o.level, o.slots, o.ways);
    return new Segment(o, run);
  }

  get slotsLeft(): number {
    return this.#slots - this.#next;
  }

  /**
   * The next slot's frame file, to be written from offset 0, then given to closeFrame().
   * Waits until zstd is done with the slot that used it before. Kept open and
   * overwritten: reusing the same page-cache pages spares their allocation. Null when zstd is gone.
   */
  async openNext(): Promise<FileHandle | null> {
    const slot = await this.#take();
    if (slot === null) return null;
    const i = slot % this.#ways;
    await this.#link(i, `f${i}`);
    this.#files[i] ??= await fs.open(path.join(this.#dir, `f${i}`), 'r+');
    return this.#files[i];
  }

  /** The frame file from openNext() holds `length` bytes: zstd may read it. False when zstd is gone. */
  async closeFrame(fh: FileHandle, length: number): Promise<boolean> {
    // zstd reads to the end of the file: cut what an earlier, longer frame left there.
    await fh.truncate(length);
    this.#queueRing(this.#next - 1);
    return !this.#exitedFlag;
  }

  /**
   * The next slot is a file zstd reads itself (`target`, opened by zstd through the
   * slot's link). Its slot number (see past()), or null when zstd is gone.
   */
  async direct(target: string): Promise<number | null> {
    const slot = await this.#take();
    if (slot === null) return null;
    await this.#link(slot % this.#ways, target);
    this.#queueRing(slot);
    return slot;
  }

  /** Resolves once zstd is done with `slot` (it opened a later doorbell, or it exited). */
  past(slot: number): Promise<void> {
    if (this.#past > slot) return Promise.resolve();
    return new Promise((resolve) => this.#pastWaiters.push({ slot, resolve }));
  }

  /** Gives zstd an empty frame for every unused slot, then waits for it to end. */
  async finish(): Promise<void> {
    while (this.slotsLeft > 0) {
      const fh = await this.openNext();
      if (!fh || !(await this.closeFrame(fh, 0))) break;
    }
    try {
      await this.#rings;
      await this.exited;
    } finally {
      await this.#closeFiles();
    }
  }

  /** Ends zstd at once and waits for it. */
  async kill(): Promise<void> {
    this.#kill();
    // A FIFO open of ours may still wait for zstd; be its reader.
    for (let i = 0; i < this.#ways; i++) void this.#unblock(path.join(this.#dir, `d${i}`));
    await this.exited.catch(() => undefined);
    await this.#rings;
    await this.#closeFiles();
  }

  /** The next slot, once its way is free again; null when zstd is gone. */
  async #take(): Promise<number | null> {
    if (this.#exitedFlag) return null;
    const slot = this.#next++;
    await this.past(slot - this.#ways);
    return this.#exitedFlag ? null : slot;
  }

  #passed(below: number): void {
    this.#past = Math.max(this.#past, below);
    const waiting = this.#pastWaiters;
    this.#pastWaiters = waiting.filter((w) => w.slot >= this.#past);
    for (const w of waiting) if (w.slot < this.#past) w.resolve();
  }

  /** Points `x<i>` at `target`, atomically (a new link renamed over the old). */
  async #link(i: number, target: string): Promise<void> {
    if (this.#links[i] === target) return;
    const name = path.join(this.#dir, `x${i}`);
    await fs.rm(`${name}.new`, { force: true });
    await fs.symlink(target, `${name}.new`);
    await fs.rename(`${name}.new`, name);
    this.#links[i] = target;
  }

  #queueRing(slot: number): void {
    this.#rings = this.#rings.then(() => this.#ring(slot));
  }

  /**
   * Opens and closes `slot`'s doorbell. The doorbells take turns: zstd may still hold
   * the one it just read to its end, and a second ring of that same FIFO would be
   * taken by the stale reader and lost.
   */
  async #ring(slot: number): Promise<void> {
    if (this.#exitedFlag) return;
    const name = path.join(this.#dir, `d${slot % this.#ways}`);
    const opening = fs.open(name, constants.O_WRONLY);
    // An open of a FIFO waits for a reader: if zstd died, be that reader so the open returns.
    void this.exited.then(() => undefined, () => undefined).then(() => this.#unblock(name));
    const fh = await opening.catch(() => null);
    await fh?.close();
    this.#passed(slot);
  }

  async #unblock(name: string): Promise<void> {
    const r = await fs.open(name, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => null);
    await r?.close();
  }

  async #closeFiles(): Promise<void> {
    await Promise.all(this.#files.map((f) => f?.close().catch(() => undefined)));
    this.#files.fill(null);
  }
}
