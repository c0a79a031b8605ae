import { copyFile, mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { EvtSchema, MAX_FRAME_BYTES, ReconSyncError, eventTopics, isRecordTopic, systemClock, type Clock, type EventData, type RecordTopic } from '../../protocol/index.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { fsyncDir, writeFileAtomic } from '../../lib/durable-file.ts';
import { safeParse } from '../../protocol/safe-parse.ts';
import { firstIssue } from '../../lib/zod-issue.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * The agent's on-disk outbox for record events (design.md §5): outcomes the
 * hub must not miss. Each record is one line of `outbox.jsonl` holding the
 * exact `evt` frame that goes on the wire, so a re-send is a plain write of
 * the stored string. Appends are fsync'd before the caller hears back;
 * appends that arrive while a write is in flight share the next fsync
 * (group commit). Acked lines are dropped in memory at once and from the file
 * by an atomic rewrite once they outnumber the pending ones.
 *
 * `seq` survives restarts: it is the larger of the highest seq in the file and
 * the `seq` file, which is written (atomically) whenever a rewrite would
 * otherwise lose the highest seq. Seqs are monotonic, not contiguous: a failed
 * write burns its seq.
 */
export interface OutboxOptions {
  /** Unacked records kept at most; beyond, appends are refused (oldest are kept). */
  maxRecords: number;
  /** Unacked bytes kept at most; beyond, appends are refused (oldest are kept). */
  maxBytes: number;
  /** Rewrite the file once at least this many acked lines are in it and they outnumber the pending ones. */
  compactAfter: number;
  logger: Logger;
  /** Names the copy of a damaged file (outbox.jsonl.damaged-<now>). */
  clock: Clock;
  /** Called synchronously, in seq order, right after a record became durable. */
  onDurable?: (record: OutboxRecord) => void;
}

export const DefaultOutboxOptions = {
  maxRecords: 100_000,
  maxBytes: 64 * 1024 * 1024,
  compactAfter: 64,
  logger: silentLogger,
  clock: systemClock,
} as const satisfies OutboxOptions;

export interface OutboxRecord {
  readonly seq: number;
  readonly topic: RecordTopic;
  /** The encoded `evt` frame, without newline. */
  readonly frame: string;
  /** Bytes on disk, newline included. */
  readonly bytes: number;
}

interface Queued {
  seq: number;
  topic: RecordTopic;
  frame: string;
  resolve: (seq: number) => void;
  reject: (err: unknown) => void;
}

const OUTBOX_FILE = 'outbox.jsonl';
const SEQ_FILE = 'seq';
const SeqFileSchema = z.object({ lastSeq: z.number().int().nonnegative(), ackedSeq: z.number().int().nonnegative() });

export class Outbox {
  readonly #dir: string;
  readonly #file: string;
  readonly #opts: OutboxOptions;
  readonly #log: Logger;
  #fh: FileHandle | undefined;
  /** Every record still in the file, in seq order; those before #head are acked. */
  #records: OutboxRecord[] = [];
  #head = 0;
  #pendingBytes = 0;
  /** Bytes of whole lines in the file: where to cut back to after a failed write. */
  #fileSize = 0;
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #flushScheduled = false;
  #compactScheduled = false;
  /** Serialises every file operation (flushes, rewrites, close). */
  #chain: Promise<void> = Promise.resolve();
  /** Highest seq handed out (durable or not). */
  #assigned = 0;
  #ackedSeq = 0;
  #refused = 0;
  #closed = false;

  // The one TypeScript private here on purpose: no #constructor in JS, and open() (load + repair) must be the only way in.
  private constructor(dir: string, opts: OutboxOptions) {
    this.#dir = dir;
    this.#file = join(dir, OUTBOX_FILE);
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'outbox' });
  }

  /** Load (or create) the outbox in `dir`. Never fails on a damaged file: bad lines are set aside and logged. */
  static async open(dir: string, options: Partial<OutboxOptions> = {}): Promise<Outbox> {
    const outbox = new Outbox(dir, { ...DefaultOutboxOptions, ...options });
    await outbox.#load();
    return outbox;
  }

  /** Highest seq handed out so far. */
  get lastSeq(): number {
    return this.#assigned;
  }

  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  get pendingCount(): number {
    return this.#records.length - this.#head;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Durable, unacked records in seq order. */
  pending(): readonly OutboxRecord[] {
    return this.#records.slice(this.#head);
  }

  /**
   * Validate, number and durably store one record. Resolves with its seq once
   * it is fsync'd. Rejects with INVALID_PARAMS for data the hub would refuse,
   * DISK_FULL when the outbox is over its bounds.
   */
  append<T extends RecordTopic>(topic: T, data: EventData<T>): Promise<number> {
    if (this.#closed) return Promise.reject(new ReconSyncError('INTERNAL', 'outbox is closed'));
    if (!isRecordTopic(topic)) return Promise.reject(new ReconSyncError('INVALID_PARAMS', `${String(topic)} is not a record topic`));
    const checked = safeParse(eventTopics[topic].data, data);
    if (!checked.success) {
      return Promise.reject(new ReconSyncError('INVALID_PARAMS', `${topic}: ${firstIssue(checked.error)}`));
    }
    const seq = this.#assigned + 1;
    const frame = JSON.stringify({ type: 'evt', topic, seq, data: checked.data });
    const bytes = Buffer.byteLength(frame) + 1;
    if (bytes > MAX_FRAME_BYTES) {
      return Promise.reject(new ReconSyncError('INVALID_PARAMS', `${topic}: record is ${bytes} bytes, more than the ${MAX_FRAME_BYTES}-byte frame limit`));
    }
    const count = this.pendingCount + this.#queue.length;
    if (count >= this.#opts.maxRecords || this.#pendingBytes + this.#queuedBytes + bytes > this.#opts.maxBytes) {
      return Promise.reject(this.#refuse(topic, count));
    }
    this.#assigned = seq;
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ seq, topic, frame, resolve, reject });
      this.#queuedBytes += bytes;
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        void this.#enqueue(() => this.#flush());
      }
    });
  }

  /** The hub stored everything up to `seq` (cumulative). */
  ack(seq: number): void {
    // An ack beyond what we stored durably would be a hub bug; never let it drop records not yet written.
    const durable = this.#records.length > 0 ? this.#records[this.#records.length - 1]!.seq : this.#ackedSeq;
    const upto = Math.min(seq, Math.max(durable, this.#ackedSeq));
    if (seq > upto) this.#log.warn({ ackSeq: seq, durableSeq: durable }, 'hub acked records this agent never stored; ignoring the excess');
    if (upto <= this.#ackedSeq) return;
    this.#ackedSeq = upto;
    while (this.#head < this.#records.length && this.#records[this.#head]!.seq <= upto) {
      this.#pendingBytes -= this.#records[this.#head]!.bytes;
      this.#head++;
    }
    if (this.#refused > 0 && this.pendingCount < this.#opts.maxRecords && this.#pendingBytes < this.#opts.maxBytes) {
      this.#log.info({ refused: this.#refused }, 'outbox has room again after the hub acked; new records are stored again');
      this.#refused = 0;
    }
    const acked = this.#head;
    if (!this.#compactScheduled && acked >= this.#opts.compactAfter && acked >= this.pendingCount) {
      this.#compactScheduled = true;
      void this.#enqueue(() => this.#rewrite());
    }
  }

  /**
   * The hub already holds records up to `hubSeq`, more than this outbox ever
   * numbered: the agent's dataDir was reset or restored. Renumber everything
   * unacked above `hubSeq`, or the hub would drop it as duplicates.
   * Returns whether anything changed.
   */
  async rebase(hubSeq: number): Promise<boolean> {
    let changed = false;
    await this.#enqueue(async () => {
      if (hubSeq <= this.#assigned) return;
      changed = true;
      this.#log.warn({ hubSeq, localSeq: this.#assigned, pending: this.pendingCount + this.#queue.length },
        'hub knows record seqs this agent never numbered (agent data reset?); renumbering unacked records after them');
      let next = hubSeq;
      const renumbered = this.#records.slice(this.#head).map((r) => {
        const frame = withSeq(r.frame, ++next);
        return { seq: next, topic: r.topic, frame, bytes: Buffer.byteLength(frame) + 1 };
      });
      for (const q of this.#queue) {
        q.seq = ++next;
        q.frame = withSeq(q.frame, q.seq);
      }
      this.#records = renumbered;
      this.#head = 0;
      this.#pendingBytes = renumbered.reduce((n, r) => n + r.bytes, 0);
      this.#assigned = next;
      this.#ackedSeq = hubSeq;
      await this.#rewriteNow();
    });
    return changed;
  }

  /** Finish pending writes and release the file. Appends after this reject. */
  async close(): Promise<void> {
    if (this.#closed) return this.#chain;
    this.#closed = true;
    await this.#enqueue(async () => {
      await this.#fh?.close();
      this.#fh = undefined;
    });
  }

  #enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.#chain.then(op);
    // The chain itself never rejects, so one failed operation does not wedge the ones after it.
    this.#chain = run.catch((err: unknown) => this.#log.error({ err }, 'outbox file operation failed'));
    return run;
  }

  #refuse(topic: string, count: number): ReconSyncError {
    this.#refused++;
    const what = `${count} records, ${this.#pendingBytes + this.#queuedBytes} bytes; limits ${this.#opts.maxRecords} records, ${this.#opts.maxBytes} bytes`;
    // Log the first refusal of an episode loudly, then every 100th, so a long outage does not flood the log.
    if (this.#refused === 1 || this.#refused % 100 === 0) {
      this.#log.error({ topic, refused: this.#refused, dir: this.#dir },
        `outbox is full (${what}): the hub has not acknowledged records for a long time. New records are refused, older ones are kept; check the link to the hub`);
    }
    return new ReconSyncError('DISK_FULL', `agent outbox is full (${what}); ${topic} was not recorded. Check the link to the hub`);
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#flushScheduled = false;
    if (batch.length === 0) return;
    let text = '';
    for (const q of batch) text += q.frame + '\n';
    const buf = Buffer.from(text);
    let fh = this.#fh;
    try {
      // A failed rewrite may have left the file closed: reopen rather than refuse every later record.
      fh ??= this.#fh = await open(this.#file, 'a');
      await fh.write(buf, 0, buf.length);
      await fh.datasync();
      this.#fileSize += buf.length;
    } catch (err) {
      // Cut a partial write off, so the next append does not glue onto half a line.
      await fh?.truncate(this.#fileSize).catch(() => undefined);
      this.#log.error({ err, records: batch.length }, 'could not write to the outbox; those records are lost to the hub');
      for (const q of batch) q.reject(new ReconSyncError('INTERNAL', `could not write the outbox: ${errorMessage(err)}`, { cause: err }));
      return;
    }
    for (const q of batch) {
      const record: OutboxRecord = { seq: q.seq, topic: q.topic, frame: q.frame, bytes: Buffer.byteLength(q.frame) + 1 };
      this.#records.push(record);
      this.#pendingBytes += record.bytes;
      this.#opts.onDurable?.(record);
      q.resolve(q.seq);
    }
  }

  async #rewrite(): Promise<void> {
    this.#compactScheduled = false;
    if (this.#head === 0) return;
    await this.#rewriteNow();
  }

  /** Atomically replace the file with the pending records (and persist seq first, since acked lines carry it). */
  async #rewriteNow(): Promise<void> {
    // #assigned may include queued records not yet written; persisting it only makes seq skip, never repeat.
    await writeFileAtomic(join(this.#dir, SEQ_FILE), JSON.stringify({ lastSeq: this.#assigned, ackedSeq: this.#ackedSeq }));
    const cut = this.#head;
    let text = '';
    for (let i = cut; i < this.#records.length; i++) text += this.#records[i]!.frame + '\n';
    await this.#fh?.close();
    this.#fh = undefined;
    await writeFileAtomic(this.#file, text);
    this.#fileSize = Buffer.byteLength(text);
    // Acks that arrived while we were writing moved #head on; keep them (those lines go at the next rewrite).
    this.#records = this.#records.slice(cut);
    this.#head -= cut;
    this.#fh = await open(this.#file, 'a');
  }

  async #load(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const seqState = await this.#readSeqFile();
    this.#ackedSeq = seqState.ackedSeq;
    const raw = await readFile(this.#file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return Buffer.alloc(0);
      throw err;
    });
    let lastSeq = seqState.lastSeq;
    let bad = 0;
    let torn = false;
    let start = 0;
    while (start < raw.length) {
      const nl = raw.indexOf(0x0a, start);
      if (nl === -1) {
        // A crash mid-append leaves a last line without its newline; it was never acknowledged to anyone.
        torn = true;
        this.#log.warn({ bytes: raw.length - start }, 'outbox ends in a torn line (crash mid-write); ignoring it');
        break;
      }
      const line = raw.toString('utf8', start, nl);
      start = nl + 1;
      if (line.trim() === '') continue;
      const record = parseLine(line);
      if (!record || record.seq <= lastSeqInFile(this.#records)) {
        bad++;
        // The hub may have seen this seq before the line went bad: never hand it out again.
        lastSeq = Math.max(lastSeq, seqOf(line));
        this.#log.error({ line: line.slice(0, 200) }, 'outbox line is damaged or out of order; setting it aside');
        continue;
      }
      this.#records.push(record);
      if (record.seq > lastSeq) lastSeq = record.seq;
    }
    while (this.#head < this.#records.length && this.#records[this.#head]!.seq <= this.#ackedSeq) this.#head++;
    for (let i = this.#head; i < this.#records.length; i++) this.#pendingBytes += this.#records[i]!.bytes;
    this.#assigned = Math.max(lastSeq, this.#ackedSeq);
    if (bad > 0) {
      const aside = `${this.#file}.damaged-${this.#opts.clock.now()}`;
      await copyFile(this.#file, aside);
      this.#log.error({ file: aside, lines: bad }, 'kept a copy of the damaged outbox for inspection');
    }
    if (bad > 0 || torn) await this.#rewriteNow();
    else {
      this.#fh = await open(this.#file, 'a');
      this.#fileSize = raw.length;
    }
    await fsyncDir(this.#dir);
    this.#log.debug({ pending: this.pendingCount, lastSeq: this.#assigned, ackedSeq: this.#ackedSeq }, 'outbox loaded');
  }

  async #readSeqFile(): Promise<z.infer<typeof SeqFileSchema>> {
    const path = join(this.#dir, SEQ_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lastSeq: 0, ackedSeq: 0 };
      throw err;
    }
    try {
      return SeqFileSchema.parse(JSON.parse(text));
    } catch {
      // Written atomically, so this means outside interference; the outbox lines still carry their seqs.
      this.#log.error({ file: path }, 'outbox seq file is damaged; continuing from the seqs in the outbox');
      return { lastSeq: 0, ackedSeq: 0 };
    }
  }
}

function lastSeqInFile(records: OutboxRecord[]): number {
  return records.length > 0 ? records[records.length - 1]!.seq : 0;
}

function parseLine(line: string): OutboxRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = safeParse(EvtSchema, value);
  if (!parsed.success || parsed.data.seq === undefined || !isRecordTopic(parsed.data.topic)) return undefined;
  return { seq: parsed.data.seq, topic: parsed.data.topic, frame: line, bytes: Buffer.byteLength(line) + 1 };
}

/** The seq of a line that failed validation, if it still has a readable one. */
function seqOf(line: string): number {
  try {
    const seq = (JSON.parse(line) as { seq?: unknown }).seq;
    return typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
  } catch {
    return 0;
  }
}

function withSeq(frame: string, seq: number): string {
  const value = JSON.parse(frame) as { seq: number };
  value.seq = seq;
  return JSON.stringify(value);
}
