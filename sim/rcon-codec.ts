/**
 * Source RCON packets (games.md "Protocol notes"): int32 size (bytes after it,
 * >= 10), int32 id, int32 type, body, NUL, NUL. Little-endian.
 */

export const RconType = {
  AUTH: 3,
  AUTH_RESPONSE: 2,
  EXECCOMMAND: 2,
  RESPONSE_VALUE: 0,
} as const;

export interface RconPacket {
  id: number;
  type: number;
  body: string;
}

/** Smallest legal size field: id + type + two NULs. */
const MIN_SIZE = 10;

export function encodeRcon(id: number, type: number, body: string | Buffer): Buffer {
  const raw = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const buf = Buffer.alloc(4 + MIN_SIZE + raw.length);
  buf.writeInt32LE(MIN_SIZE + raw.length, 0);
  buf.writeInt32LE(id, 4);
  buf.writeInt32LE(type, 8);
  raw.copy(buf, 12);
  return buf;
}

export class RconFrameError extends Error {}

/** Streams bytes in, packets out; tolerant of any TCP chunking. */
export class RconDecoder {
  #buf: Buffer = Buffer.alloc(0);
  readonly #maxSize: number;
  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  push(chunk: Buffer): RconPacket[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: RconPacket[] = [];
    while (this.#buf.length >= 4) {
      const size = this.#buf.readInt32LE(0);
      if (size < MIN_SIZE || size > this.#maxSize) throw new RconFrameError(`bad RCON packet size ${size}`);
      if (this.#buf.length < 4 + size) break;
      const id = this.#buf.readInt32LE(4);
      const type = this.#buf.readInt32LE(8);
      // The body ends at the first NUL (some clients pad); never read past size - 2.
      const bodyBytes = this.#buf.subarray(12, 4 + size - 2);
      const nul = bodyBytes.indexOf(0);
      out.push({ id, type, body: (nul < 0 ? bodyBytes : bodyBytes.subarray(0, nul)).toString('utf8') });
      this.#buf = this.#buf.subarray(4 + size);
    }
    return out;
  }
}

/** Splits output into bodies of at most maxBody bytes without cutting a UTF-8 character. */
export function splitBody(text: string, maxBody: number): Buffer[] {
  const all = Buffer.from(text, 'utf8');
  if (all.length <= maxBody) return [all];
  const parts: Buffer[] = [];
  let off = 0;
  while (off < all.length) {
    let end = Math.min(off + maxBody, all.length);
    // Step back over UTF-8 continuation bytes (10xxxxxx).
    while (end < all.length && end > off && (all[end]! & 0xc0) === 0x80) end--;
    parts.push(all.subarray(off, end));
    off = end;
  }
  return parts;
}
