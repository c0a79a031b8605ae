/**
 * The zstd frame format, as far as the reader needs it (RFC 8878 §3.1): frame
 * headers, block headers, skippable frames. No decoding here: this finds where
 * frames and blocks end and refuses headers this reader will not decode.
 * Archives come back from remote storage, so every field is checked before it
 * sizes anything.
 */
import type { ByteQueue } from './byte-queue.ts';

export const ZSTD_MAGIC = 0xfd2fb528;
/** Largest block content (Block_Maximum_Size's upper limit). */
export const ZSTD_BLOCK_MAX = 128 * 1024;
/** Longest frame header: magic 4, descriptor 1, window 1, dictionary id 4, content size 8. */
export const ZSTD_HEADER_MAX = 18;

export function isSkippableMagic(magic: number): boolean {
  return (magic & 0xfffffff0) >>> 0 === 0x184d2a50;
}

export interface FrameHeader {
  /** Bytes of the header, magic included; the first block header follows. */
  headerBytes: number;
  /** Decompressed size the header declares, or null when it does not say. */
  contentSize: number | null;
  /** The window the decoder must keep (for a single-segment frame: its content size). */
  windowBytes: number;
  singleSegment: boolean;
  /** A 4-byte content checksum (low 32 bits of XXH64) follows the last block. */
  checksum: boolean;
}

/** Bytes the header of the frame starting with `b` needs (b holds at least 5). */
export function frameHeaderBytes(b: Uint8Array): number {
  const fhd = b[4]!;
  const singleSegment = (fhd >> 5) & 1;
  return 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + [singleSegment, 2, 4, 8][fhd >> 6]!;
}

/**
 * Parses the header of the zstd frame at the start of `b`, which holds at
 * least frameHeaderBytes(b) bytes. Throws on a header no ReconSync archive has:
 * bad magic, reserved bit set, a dictionary (we never use one).
 */
export function parseFrameHeader(b: Uint8Array): FrameHeader {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0, true) !== ZSTD_MAGIC) throw new Error('not a zstd stream (bad frame magic)');
  const fhd = b[4]!;
  if (fhd & 0x08) throw new Error('corrupt zstd stream (reserved bit set in the frame header)');
  const singleSegment = ((fhd >> 5) & 1) === 1;
  let p = 5;
  let windowBytes = 0;
  if (!singleSegment) {
    const wd = b[p++]!;
    const base = 2 ** (10 + (wd >> 3));
    windowBytes = base + (base / 8) * (wd & 7);
  }
  const didBytes = [0, 1, 2, 4][fhd & 3]!;
  let dictId = 0;
  for (let i = didBytes - 1; i >= 0; i--) dictId = dictId * 256 + b[p + i]!;
  p += didBytes;
  if (dictId !== 0) throw new Error(`zstd frame needs dictionary ${dictId}; ReconSync archives never use a dictionary`);
  const fcsFlag = fhd >> 6;
  let contentSize: number | null = null;
  if (fcsFlag === 0 && singleSegment) contentSize = b[p]!;
  else if (fcsFlag === 1) contentSize = v.getUint16(p, true) + 256;
  else if (fcsFlag === 2) contentSize = v.getUint32(p, true);
  else if (fcsFlag === 3) contentSize = Number(v.getBigUint64(p, true));
  if (singleSegment) windowBytes = contentSize!;
  return { headerBytes: frameHeaderBytes(b), contentSize, windowBytes, singleSegment, checksum: ((fhd >> 2) & 1) === 1 };
}

export interface BlockHeader {
  last: boolean;
  /** 0 raw, 1 RLE, 2 compressed. */
  type: 0 | 1 | 2;
  /** Bytes after the 3-byte block header. */
  stored: number;
  /** Most bytes the block can decompress to. */
  maxOut: number;
}

/** The block header made of bytes b0, b1, b2. */
export function parseBlockHeader(b0: number, b1: number, b2: number): BlockHeader {
  const bh = b0 | (b1 << 8) | (b2 << 16);
  const type = (bh >> 1) & 3;
  const size = bh >>> 3;
  if (type === 3) throw new Error('corrupt zstd stream (reserved block type)');
  if (size > ZSTD_BLOCK_MAX) throw new Error(`corrupt zstd stream (block of ${size} bytes; blocks hold at most ${ZSTD_BLOCK_MAX})`);
  return { last: (bh & 1) === 1, type: type as 0 | 1 | 2, stored: type === 1 ? 1 : size, maxOut: type === 2 ? ZSTD_BLOCK_MAX : size };
}

export function truncatedError(): Error {
  return new Error('truncated zstd stream');
}

/** The block whose header is at `pos` in `q`, once all its bytes are buffered. */
export async function blockIn(q: ByteQueue, pos: number): Promise<BlockHeader> {
  if (!(await q.ensure(pos + 3))) throw truncatedError();
  const b = parseBlockHeader(q.byteAt(pos), q.byteAt(pos + 1), q.byteAt(pos + 2));
  if (!(await q.ensure(pos + 3 + b.stored))) throw truncatedError();
  return b;
}

/** The little-endian u32 at `pos` in `q` (buffered). */
export function u32In(q: ByteQueue, pos: number): number {
  return (q.byteAt(pos) | (q.byteAt(pos + 1) << 8) | (q.byteAt(pos + 2) << 16) | (q.byteAt(pos + 3) << 24)) >>> 0;
}
