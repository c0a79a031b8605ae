/**
 * Steam A2S replies, client side (games.md "Protocol notes"): pure functions
 * over bytes, so tests feed them datagrams directly. Little-endian,
 * NUL-terminated UTF-8 strings. Everything here is outside data: every read is
 * bounds-checked, and a reply that ends early is refused with an A2sError
 * naming what was missing, never read past.
 */

export const A2sType = {
  SIMPLE: -1,
  SPLIT: -2,
  INFO_REQUEST: 0x54,
  PLAYER_REQUEST: 0x55,
  RULES_REQUEST: 0x56,
  CHALLENGE: 0x41,
  INFO: 0x49,
  PLAYER: 0x44,
  RULES: 0x45,
} as const;

/** Sizes a reply may have; anything beyond is a broken or hostile server, not a game. */
export const A2sLimits = {
  /** One datagram. Source servers send at most 1400 (some 1248); the rest is slack. */
  maxDatagramBytes: 4096,
  /** Parts of one split reply. 48 × 1400 B covers the largest rule lists we have seen. */
  maxSplitPackets: 48,
  /** A reassembled reply. */
  maxReplyBytes: 64 * 1024,
} as const;

/** Bytes of a split packet's header: FE FF FF FF, int32 id, byte total, byte number, int16 size. */
const SPLIT_HEADER_BYTES = 12;
const INFO_PAYLOAD = 'Source Engine Query\0';
/** The "no challenge yet" value a client sends to ask for one. */
export const NO_CHALLENGE = 0xffffffff;

export type A2sErrorReason = 'truncated' | 'oversized' | 'bad-split' | 'compressed' | 'challenge';

export class A2sError extends Error {
  constructor(readonly reason: A2sErrorReason, message: string) {
    super(message);
    this.name = 'A2sError';
  }
}

export function encodeInfoRequest(challenge: number | null): Buffer {
  const head = Buffer.from(`\xff\xff\xff\xff\x54${INFO_PAYLOAD}`, 'latin1');
  if (challenge === null) return head;
  const b = Buffer.alloc(head.length + 4);
  head.copy(b);
  b.writeUInt32LE(challenge >>> 0, head.length);
  return b;
}

/** A2S_PLAYER (0x55) or A2S_RULES (0x56) with a challenge (NO_CHALLENGE to ask for one). */
export function encodeChallengedRequest(type: typeof A2sType.PLAYER_REQUEST | typeof A2sType.RULES_REQUEST, challenge: number): Buffer {
  const b = Buffer.alloc(9);
  b.writeInt32LE(A2sType.SIMPLE, 0);
  b.writeUInt8(type, 4);
  b.writeUInt32LE(challenge >>> 0, 5);
  return b;
}

/** A bounds-checked cursor over one reply; `what` names the reply in errors. */
class Reader {
  #at: number;
  readonly #buf: Buffer;
  readonly #what: string;
  constructor(buf: Buffer, start: number, what: string) {
    this.#buf = buf;
    this.#what = what;
    this.#at = start;
  }
  get remaining(): number {
    return this.#buf.length - this.#at;
  }
  #need(n: number, field: string): number {
    if (this.#at + n > this.#buf.length) throw new A2sError('truncated', `the ${this.#what} reply ended before its ${field} (${this.#buf.length} bytes)`);
    const at = this.#at;
    this.#at += n;
    return at;
  }
  byte(field: string): number { return this.#buf.readUInt8(this.#need(1, field)); }
  int16(field: string): number { return this.#buf.readUInt16LE(this.#need(2, field)); }
  int32(field: string): number { return this.#buf.readInt32LE(this.#need(4, field)); }
  float(field: string): number { return this.#buf.readFloatLE(this.#need(4, field)); }
  skip(n: number, field: string): void { this.#need(n, field); }
  string(field: string): string {
    const end = this.#buf.indexOf(0, this.#at);
    if (end < 0) throw new A2sError('truncated', `the ${this.#what} reply ended inside its ${field} (no NUL)`);
    const s = this.#buf.toString('utf8', this.#at, end);
    this.#at = end + 1;
    return s;
  }
}

export interface A2sInfo {
  name: string;
  map: string;
  folder: string;
  game: string;
  players: number;
  maxPlayers: number;
  bots: number;
  version: string;
  /** EDF 0x20, split on commas; [] when absent. */
  keywords: string[];
  /** EDF 0x80; null when absent. */
  gamePort: number | null;
}

/** `reply` is a whole reply starting FF FF FF FF 49. */
export function decodeInfo(reply: Buffer): A2sInfo {
  const r = new Reader(reply, 5, 'A2S_INFO');
  r.byte('protocol');
  const name = r.string('name');
  const map = r.string('map');
  const folder = r.string('folder');
  const game = r.string('game');
  r.int16('app id');
  const players = r.byte('player count');
  const maxPlayers = r.byte('max players');
  const bots = r.byte('bot count');
  r.skip(4, 'server type, environment, visibility and VAC bytes');
  const version = r.string('version');
  let keywords: string[] = [];
  let gamePort: number | null = null;
  // The extra data flag is optional: old servers end the reply after the version.
  if (r.remaining > 0) {
    const edf = r.byte('extra data flag');
    if (edf & 0x80) gamePort = r.int16('game port');
    if (edf & 0x10) r.skip(8, 'steam id');
    if (edf & 0x40) { r.int16('SourceTV port'); r.string('SourceTV name'); }
    if (edf & 0x20) keywords = r.string('keywords').split(',');
    // 0x01 (64-bit game id) is not used.
  }
  return { name, map, folder, game, players, maxPlayers, bots, version, keywords, gamePort };
}

export interface A2sPlayer {
  name: string;
  score: number;
  seconds: number;
}

/**
 * `reply` starts FF FF FF FF 44. Servers with many players cut the list to
 * fit their packet (Rust, ARK), so entries up to the first incomplete one are
 * kept; a reply without even the count byte is refused.
 */
export function decodePlayers(reply: Buffer): A2sPlayer[] {
  const r = new Reader(reply, 5, 'A2S_PLAYER');
  const count = r.byte('player count');
  const out: A2sPlayer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      r.byte('index');
      const name = r.string('player name');
      const score = r.int32('score');
      const seconds = r.float('duration');
      out.push({ name, score, seconds });
    }
  } catch (err) {
    if (!(err instanceof A2sError)) throw err;
  }
  return out;
}

/** `reply` starts FF FF FF FF 45; a pair cut short ends the list, as with players. */
export function decodeRules(reply: Buffer): Map<string, string> {
  const r = new Reader(reply, 5, 'A2S_RULES');
  const count = r.int16('rule count');
  const out = new Map<string, string>();
  try {
    for (let i = 0; i < count; i++) {
      const k = r.string('rule name');
      out.set(k, r.string('rule value'));
    }
  } catch (err) {
    if (!(err instanceof A2sError)) throw err;
  }
  return out;
}

/** The challenge in a 0x41 reply. */
export function decodeChallenge(reply: Buffer): number {
  return new Reader(reply, 5, 'challenge').int32('challenge') >>> 0;
}

/**
 * Reassembles split replies (FE FF FF FF). Parts may arrive in any order and
 * twice; parts of another reply (a late answer to an earlier request) are
 * ignored. Compressed (bzip2) replies are refused: no game we profile sends
 * them, and a decompressor is an attack surface we do not need.
 */
export class SplitAssembler {
  #id: number | null = null;
  #parts: Array<Buffer | undefined> = [];
  #have = 0;
  #bytes = 0;

  /** Takes one FE-datagram; returns the whole reply (starting FF FF FF FF) once complete. */
  push(datagram: Buffer): Buffer | null {
    if (datagram.length < SPLIT_HEADER_BYTES) throw new A2sError('truncated', `a split packet of ${datagram.length} bytes is shorter than its ${SPLIT_HEADER_BYTES}-byte header`);
    const id = datagram.readUInt32LE(4);
    if (id & 0x80000000) throw new A2sError('compressed', 'the server sent a bzip2-compressed split reply, which ReconSync does not read; use query.kind gamedig for this game');
    const total = datagram.readUInt8(8);
    const number = datagram.readUInt8(9);
    if (total < 1 || total > A2sLimits.maxSplitPackets) throw new A2sError('bad-split', `a split reply claims ${total} parts (expected 1 to ${A2sLimits.maxSplitPackets})`);
    if (number >= total) throw new A2sError('bad-split', `split part number ${number} is not below its total ${total}`);
    if (this.#id === null) {
      this.#id = id;
      this.#parts = new Array<Buffer | undefined>(total);
    } else if (id !== this.#id) {
      return null;
    } else if (total !== this.#parts.length) {
      throw new A2sError('bad-split', `split reply ${id} changed its part count from ${this.#parts.length} to ${total}`);
    }
    if (this.#parts[number]) return null;
    const body = datagram.subarray(SPLIT_HEADER_BYTES);
    this.#bytes += body.length;
    if (this.#bytes > A2sLimits.maxReplyBytes) throw new A2sError('oversized', `a split reply grew past ${A2sLimits.maxReplyBytes} bytes`);
    this.#parts[number] = Buffer.from(body);
    if (++this.#have < total) return null;
    const whole = Buffer.concat(this.#parts as Buffer[]);
    this.reset();
    if (whole.length < 5 || whole.readInt32LE(0) !== A2sType.SIMPLE) throw new A2sError('bad-split', 'a reassembled split reply does not start with FF FF FF FF');
    return whole;
  }

  reset(): void {
    this.#id = null;
    this.#parts = [];
    this.#have = 0;
    this.#bytes = 0;
  }
}
