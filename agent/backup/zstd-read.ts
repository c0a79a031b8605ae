import { ByteQueue } from './byte-queue.ts';
import { blockIn, frameHeaderBytes, isSkippableMagic, parseFrameHeader, truncatedError, u32In, ZSTD_MAGIC, type FrameHeader } from './zstd-frame.ts';
import { streamFrame } from './zstd-stream.ts';

/**
 * Reads a zstd stream of any frames, in order. Two paths, chosen per frame:
 *
 * - Small frames (decompressing to at most `wholeFrameBytes`, as the header says
 *   or, when it does not, as the block headers bound it): buffered whole and
 *   decoded on the WASM pool, several at once, output in order. Our own writers
 *   make these (bounded frames of tar), and they decode fastest this way.
 * - Big frames (the zstd binary compressing one large save file as one frame;
 *   or a frame without a content size that outgrows the bound while buffering):
 *   streamed through fzstd (zstd-stream.ts), in order with the frames around
 *   them, memory bounded by the window. Nothing above `wholeFrameBytes` is ever
 *   held whole.
 *
 * Skippable frames are skipped without being held.
 */

export const DefaultZstdReadOptions = {
  wholeFrameBytes: 32 * 1024 * 1024,
  /** zstd levels 1–19 use at most an 8 MiB window; a bigger one is refused (memory and CPU attack). */
  maxWindowBytes: 8 * 1024 * 1024,
  /** Input per synchronous fzstd push (~1 MiB keeps each turn of the event loop short). */
  pushInputBytes: 1024 * 1024,
  /** Most output one push can make (block headers bound it). */
  pushOutputBytes: 4 * 1024 * 1024,
} as const satisfies Record<string, number>;

export type ZstdReadOptions = { [K in keyof typeof DefaultZstdReadOptions]?: number };

/** Where the frame at the head of `q` ends, if it is small: its length; null when it must stream. */
async function smallFrameLength(q: ByteQueue, h: FrameHeader, whole: number): Promise<{ length: number; bound: number } | null> {
  if (h.contentSize !== null && h.contentSize > whole) return null;
  let pos = h.headerBytes;
  let bound = 0;
  for (;;) {
    const b = await blockIn(q, pos);
    pos += 3 + b.stored;
    bound += b.maxOut;
    // Unknown size: the blocks bound it. Either way never buffer more input than the bound.
    if ((h.contentSize === null && bound > whole) || pos > whole) return null;
    if (b.last) break;
  }
  if (h.checksum) pos += 4;
  if (!(await q.ensure(pos))) throw truncatedError();
  return { length: pos, bound: h.contentSize ?? bound };
}

async function frameHeaderIn(q: ByteQueue): Promise<FrameHeader> {
  if (!(await q.ensure(5))) throw truncatedError();
  const n = frameHeaderBytes(q.peek(5));
  if (!(await q.ensure(n))) throw truncatedError();
  return parseFrameHeader(q.peek(n));
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** What the reader needs of the WASM pool (compress.ts ZstdPool). */
export interface WholeFrameDecoder {
  readonly size: number;
  decompress(frame: Uint8Array, bound: number): Promise<Uint8Array>;
}

export async function* readZstd(source: AsyncIterable<Uint8Array>, pool: WholeFrameDecoder, options: ZstdReadOptions = {}): AsyncGenerator<Buffer> {
  const o = { ...DefaultZstdReadOptions, ...options };
  const q = new ByteQueue(source);
  const limit = pool.size * 2;
  const inflight: Array<Promise<Uint8Array>> = [];
  try {
    for (;;) {
      if (!(await q.ensure(1))) break;
      if (!(await q.ensure(8))) throw truncatedError();
      const magic = u32In(q, 0);
      if (isSkippableMagic(magic)) {
        if (!(await q.skip(8 + u32In(q, 4)))) throw truncatedError();
        continue;
      }
      if (magic !== ZSTD_MAGIC) throw new Error('not a zstd stream (bad frame magic)');
      const h = await frameHeaderIn(q);
      const small = await smallFrameLength(q, h, o.wholeFrameBytes);
      if (small) {
        const p = pool.decompress(q.takeOwned(small.length), Math.max(small.bound, 1));
        p.catch(() => undefined); // observed when its turn comes
        inflight.push(p);
        while (inflight.length >= limit) yield asBuffer(await inflight.shift()!);
        continue;
      }
      // A big frame: everything before it first, then it, streamed.
      while (inflight.length) yield asBuffer(await inflight.shift()!);
      yield* streamFrame(q, h, o);
    }
    while (inflight.length) yield asBuffer(await inflight.shift()!);
  } finally {
    await q.close();
  }
}
