import type { ByteQueue } from './byte-queue.ts';
import { blockIn, truncatedError, u32In, type FrameHeader } from './zstd-frame.ts';

/**
 * Decodes ONE zstd frame as it arrives, with memory bounded by the frame's
 * window instead of its size: a 2 GiB save compressed by the zstd binary as a
 * single frame restores without a 2 GiB buffer. The decoder is fzstd (pure JS;
 * zstd-wasm only decodes whole frames), loaded the first time a big frame shows
 * up so the idle agent never holds it.
 *
 * fzstd is fed exactly the frame's bytes, block-aligned: we walk the block
 * headers ourselves, so each push holds at most `pushInputBytes` of input and
 * can expand to at most `pushOutputBytes` (a 4-byte RLE block expands to 128
 * KiB, so input size alone would not bound what one synchronous push makes).
 * fzstd does not check the content checksum nor the declared content size:
 * we do, so a flipped byte is an error, never silent garbage. The checksum is
 * the low 32 bits of XXH64 over the content; xxhash-wasm computes it (its wasm
 * is inlined in its JS: nothing to ship beside the bundle), loaded like fzstd
 * only when a big frame with a checksum streams.
 */

export interface StreamLimits {
  /** Largest window accepted: fzstd allocates it up front and moves it on every block. */
  maxWindowBytes: number;
  pushInputBytes: number;
  pushOutputBytes: number;
}

type Fzstd = typeof import('fzstd');
let fzstd: Promise<Fzstd> | null = null;

function loadFzstd(): Promise<Fzstd> {
  // A failed import is not cached (as lib/execa-lazy.ts): the next big frame tries again.
  fzstd ??= import('fzstd').catch((err: unknown) => {
    fzstd = null;
    throw err;
  });
  return fzstd;
}

type XxhashApi = Awaited<ReturnType<typeof import('xxhash-wasm').default>>;
/** One wasm instance for the process: its hashers keep their state in JS and share its memory. */
let xxhash: Promise<XxhashApi> | null = null;

function loadXxhash(): Promise<XxhashApi> {
  xxhash ??= import('xxhash-wasm').then((m) => m.default()).catch((err: unknown) => {
    xxhash = null;
    throw err;
  });
  return xxhash;
}

const LOW_32 = 0xffffffffn;

function corrupt(what: string): Error {
  return new Error(`corrupt zstd stream (${what})`);
}

/** Refuses, before anything is allocated, a frame whose window the streaming decoder would have to hold. */
export function checkStreamable(h: FrameHeader, lim: StreamLimits): void {
  if (h.windowBytes <= lim.maxWindowBytes) return;
  if (h.singleSegment) {
    throw new Error(`zstd frame of ${h.windowBytes} bytes in a single segment (its window is its whole size) is above the ${lim.maxWindowBytes}-byte window this reader streams with; archives from zstd -1…-19 never need more`);
  }
  throw new Error(`zstd frame window of ${h.windowBytes} bytes is above the ${lim.maxWindowBytes} bytes this reader accepts; archives from zstd -1…-19 never need more`);
}

/**
 * Streams the decompressed bytes of the frame whose header `h` is at the start
 * of `q` (header bytes still in `q`), consuming exactly that frame from `q`.
 */
export async function* streamFrame(q: ByteQueue, h: FrameHeader, lim: StreamLimits): AsyncGenerator<Buffer> {
  checkStreamable(h, lim);
  const { Decompress } = await loadFzstd();
  let out: Buffer[] = [];
  let ended = false;
  const d = new Decompress((chunk, final) => {
    if (final) {
      ended = true;
      return;
    }
    // fzstd 0.1.1 gives each block as a fresh array (read its source); copy if one ever is a view of its window, which it reuses.
    const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : chunk.slice();
    out.push(Buffer.from(own.buffer, own.byteOffset, own.byteLength));
  });
  const hash = h.checksum ? (await loadXxhash()).create64(0n) : null;
  let expected = 0;
  let produced = 0;
  let pos = h.headerBytes;
  let last = false;
  while (!last) {
    let bound = 0;
    while (!last && pos < lim.pushInputBytes && bound < lim.pushOutputBytes) {
      const b = await blockIn(q, pos);
      pos += 3 + b.stored;
      bound += b.maxOut;
      last = b.last;
    }
    if (last && h.checksum) {
      if (!(await q.ensure(pos + 4))) throw truncatedError();
      expected = u32In(q, pos);
      pos += 4; // fzstd skips these itself: it must see them to end the frame
    }
    try {
      for (const piece of q.take(pos)) d.push(piece);
      if (last) d.push(new Uint8Array(0), true);
    } catch (err) {
      throw corrupt(err instanceof Error ? err.message : String(err));
    }
    pos = 0;
    const ready = out;
    out = [];
    for (const c of ready) {
      hash?.update(c);
      produced += c.length;
    }
    if (h.contentSize !== null && produced > h.contentSize) throw corrupt(`the frame says ${h.contentSize} bytes and decodes to more`);
    yield* ready;
    // Each push is synchronous: let timers and I/O run between them.
    if (!last) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (!ended) throw corrupt('the frame did not end after its last block');
  if (h.contentSize !== null && produced !== h.contentSize) throw corrupt(`the frame says ${h.contentSize} bytes and decodes to ${produced}`);
  if (hash && Number(hash.digest() & LOW_32) !== expected) throw corrupt('content checksum mismatch');
}
