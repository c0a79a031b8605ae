/**
 * Bytes pulled from an async source on demand and kept as the source's own
 * chunks (no copy until a caller asks for one contiguous buffer). The zstd
 * reader looks ahead through it (block headers) and then takes what it looked
 * at: a whole frame for a worker, or a piece of a big frame for the streaming
 * decoder.
 */
export class ByteQueue {
  readonly #it: AsyncIterator<Uint8Array>;
  #chunks: Buffer[] = [];
  /** Bytes already taken from #chunks[0]. */
  #head = 0;
  #length = 0;
  #ended = false;
  // Last byteAt() lookup: the reader scans forward, so the next one starts there.
  #hintChunk = 0;
  #hintStart = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  get length(): number {
    return this.#length;
  }

  /** Pulls until at least `n` bytes are buffered; false if the source ended first. */
  async ensure(n: number): Promise<boolean> {
    while (this.#length < n) {
      if (this.#ended) return false;
      const r = await this.#it.next();
      if (r.done) {
        this.#ended = true;
        return false;
      }
      if (r.value.byteLength === 0) continue;
      this.#chunks.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
      this.#length += r.value.byteLength;
    }
    return true;
  }

  /** The byte at `i` (< length). */
  byteAt(i: number): number {
    let c = this.#hintChunk;
    let start = this.#hintStart;
    if (i < start) {
      c = 0;
      start = 0;
    }
    for (;;) {
      const chunk = this.#chunks[c]!;
      const avail = chunk.length - (c === 0 ? this.#head : 0);
      if (i < start + avail) break;
      start += avail;
      c++;
    }
    this.#hintChunk = c;
    this.#hintStart = start;
    return this.#chunks[c]![(c === 0 ? this.#head : 0) + i - start]!;
  }

  /** The first `n` (≤ length) bytes as one buffer; a view when they sit in one chunk. */
  peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length - this.#head >= n) return first.subarray(this.#head, this.#head + n);
    return Buffer.concat(this.#views(n), n);
  }

  /** Removes the first `n` (≤ length) bytes and returns them as views of the source's chunks. */
  take(n: number): Buffer[] {
    const out = this.#views(n);
    this.#drop(n);
    return out;
  }

  /** Removes the first `n` (≤ length) bytes into one buffer that owns its memory (transferable to a worker). */
  takeOwned(n: number): Buffer {
    const out = Buffer.allocUnsafeSlow(n);
    let p = 0;
    for (const v of this.#views(n)) p += v.copy(out, p);
    this.#drop(n);
    return out;
  }

  /** Drops `n` bytes, pulling and discarding as needed; false if the source ended first. */
  async skip(n: number): Promise<boolean> {
    while (n > 0) {
      if (this.#length === 0 && !(await this.ensure(1))) return false;
      const k = Math.min(n, this.#length);
      this.#drop(k);
      n -= k;
    }
    return true;
  }

  /** Stops the source (closes a file stream read early). */
  async close(): Promise<void> {
    this.#chunks = [];
    this.#length = 0;
    await this.#it.return?.();
  }

  #views(n: number): Buffer[] {
    const out: Buffer[] = [];
    let c = 0;
    let from = this.#head;
    while (n > 0) {
      const chunk = this.#chunks[c++]!;
      const k = Math.min(n, chunk.length - from);
      out.push(chunk.subarray(from, from + k));
      n -= k;
      from = 0;
    }
    return out;
  }

  #drop(n: number): void {
    this.#length -= n;
    while (n > 0) {
      const avail = this.#chunks[0]!.length - this.#head;
      if (n < avail) {
        this.#head += n;
        break;
      }
      n -= avail;
      this.#chunks.shift();
      this.#head = 0;
    }
    this.#hintChunk = 0;
    this.#hintStart = 0;
  }
}
