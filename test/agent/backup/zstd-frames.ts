/**
 * Inspecting what a writer made: cut a zstd stream into whole frames, with the
 * reader's own header parsers (agent/backup/zstd-frame.ts). The product reads
 * through zstd-read.ts, which streams big frames instead of holding them.
 */
import { frameHeaderBytes, isSkippableMagic, parseBlockHeader, parseFrameHeader, ZSTD_MAGIC } from '../../../agent/backup/zstd-frame.ts';

/** Size of the complete zstd (or skippable) frame at `off`, or null when more bytes are needed. */
export function zstdFrameAt(buf: Buffer, off: number): { length: number; bound: number; skippable: boolean } | null {
  if (buf.length - off < 8) return null;
  const magic = buf.readUInt32LE(off);
  if (isSkippableMagic(magic)) {
    const len = 8 + buf.readUInt32LE(off + 4);
    return buf.length - off >= len ? { length: len, bound: 0, skippable: true } : null;
  }
  if (magic !== ZSTD_MAGIC) throw new Error('not a zstd stream (bad frame magic)');
  const headerBytes = frameHeaderBytes(buf.subarray(off));
  if (buf.length < off + headerBytes) return null;
  const h = parseFrameHeader(buf.subarray(off, off + headerBytes));
  let p = off + headerBytes;
  let bound = 0;
  for (;;) {
    if (buf.length < p + 3) return null;
    const b = parseBlockHeader(buf[p]!, buf[p + 1]!, buf[p + 2]!);
    bound += b.maxOut;
    p += 3 + b.stored;
    if (buf.length < p) return null;
    if (b.last) break;
  }
  p += h.checksum ? 4 : 0;
  if (buf.length < p) return null;
  return { length: p - off, bound: h.contentSize ?? bound, skippable: false };
}

/**
 * Cuts a zstd stream into whole frames. Frames above `maxFrameBytes` (compressed or, as far as
 * the header says, decompressed) are refused, so nothing larger is held whole;
 * the reader (zstd-read.ts) streams those instead.
 */
export async function* splitZstdFrames(source: AsyncIterable<Uint8Array>, maxFrameBytes = 32 * 1024 * 1024): AsyncGenerator<{ frame: Buffer; bound: number }> {
  let buf = Buffer.alloc(0);
  for await (const chunk of source) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : Buffer.from(chunk);
    let off = 0;
    for (let f = zstdFrameAt(buf, off); f; f = zstdFrameAt(buf, off)) {
      if (!f.skippable) {
        if (f.bound > maxFrameBytes) throw new Error(`zstd frame of ${f.bound} bytes is larger than the ${maxFrameBytes} this splitter holds whole`);
        // Copy so the frame owns its buffer and can be transferred to a worker.
        yield { frame: Buffer.from(buf.subarray(off, off + f.length)), bound: Math.max(f.bound, 1) };
      }
      off += f.length;
    }
    buf = buf.subarray(off);
    if (buf.length > maxFrameBytes) throw new Error(`zstd frame above ${maxFrameBytes} bytes, or the stream is corrupt`);
  }
  if (buf.length) throw new Error('truncated zstd stream');
}
