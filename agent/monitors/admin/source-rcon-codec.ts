/**
 * Source RCON packet codec (Valve developer wiki, "Source RCON Protocol"), as
 * pure functions over bytes so it can be tested without a socket.
 *
 * Packet: int32 size (bytes after the size field, >= 10), int32 id, int32 type,
 * body (NUL-terminated), one more NUL. All little-endian.
 */

export const PacketType = {
  RESPONSE_VALUE: 0,
  /** Server → client: AUTH_RESPONSE. Client → server: EXECCOMMAND. Same number. */
  AUTH_RESPONSE: 2,
  EXECCOMMAND: 2,
  AUTH: 3,
} as const;

export interface RconPacket {
  id: number;
  type: number;
  body: string;
}

/** id + type + two NULs: the smallest legal size field. */
export const MIN_PACKET_SIZE = 10;
/** srcds and Minecraft cap packets near 4 KiB; ARK sends longer ones. Anything past this is hostile. */
export const DEFAULT_MAX_PACKET_SIZE = 1024 * 1024;

export class RconProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RconProtocolError';
  }
}

export function encodePacket(packet: RconPacket): Buffer {
  const body = Buffer.from(packet.body, 'utf8');
  const size = 4 + 4 + body.length + 2;
  const buf = Buffer.alloc(4 + size);
  buf.writeInt32LE(size, 0);
  buf.writeInt32LE(packet.id, 4);
  buf.writeInt32LE(packet.type, 8);
  body.copy(buf, 12);
  // The two trailing NULs are already zero from alloc.
  return buf;
}

/** Decodes one complete packet (size field included). Tolerates a missing second NUL, as some servers send. */
export function decodePacket(buf: Buffer): RconPacket {
  if (buf.length < 4 + MIN_PACKET_SIZE - 1) throw new RconProtocolError(`packet of ${buf.length} bytes is shorter than the minimum`);
  const size = buf.readInt32LE(0);
  if (size + 4 !== buf.length) throw new RconProtocolError(`size field ${size} does not match ${buf.length - 4} bytes`);
  let end = buf.length;
  // Strip the terminators: normally two NULs, tolerate one.
  if (end > 12 && buf[end - 1] === 0) end--;
  if (end > 12 && buf[end - 1] === 0) end--;
  return { id: buf.readInt32LE(4), type: buf.readInt32LE(8), body: buf.toString('utf8', 12, end) };
}

/**
 * Splits a TCP byte stream into packets. Feed it every chunk; it returns the
 * packets completed so far. A size outside [MIN_PACKET_SIZE - 1, maxPacketSize]
 * throws RconProtocolError before any buffering, so a hostile peer cannot make it
 * allocate a huge buffer.
 */
export class PacketDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #maxPacketSize: number;

  constructor(opts: { maxPacketSize?: number } = {}) {
    this.#maxPacketSize = opts.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
  }

  push(chunk: Buffer): RconPacket[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const packets: RconPacket[] = [];
    let buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    let offset = 0;
    while (buf.length - offset >= 4) {
      const size = buf.readInt32LE(offset);
      // One NUL short of the minimum is tolerated (decodePacket handles it); less is garbage.
      if (size < MIN_PACKET_SIZE - 1 || size > this.#maxPacketSize) {
        this.reset();
        throw new RconProtocolError(`invalid packet size ${size} (expected ${MIN_PACKET_SIZE}..${this.#maxPacketSize})`);
      }
      if (buf.length - offset < 4 + size) break;
      packets.push(decodePacket(buf.subarray(offset, offset + 4 + size)));
      offset += 4 + size;
    }
    buf = buf.subarray(offset);
    this.#chunks = buf.length ? [Buffer.from(buf)] : [];
    this.#buffered = buf.length;
    return packets;
  }

  /** Bytes received that do not yet form a whole packet. */
  get pending(): number {
    return this.#buffered;
  }

  reset(): void {
    this.#chunks = [];
    this.#buffered = 0;
  }
}
