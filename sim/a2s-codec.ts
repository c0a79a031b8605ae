/**
 * Steam A2S wire format, server side (games.md "Protocol notes"; Valve wiki
 * "Server queries"). Little-endian, NUL-terminated UTF-8 strings. Pure
 * functions: tests feed them bytes directly.
 */

export const A2S = {
  SIMPLE: -1,
  SPLIT: -2,
  INFO_REQUEST: 0x54,
  PLAYER_REQUEST: 0x55,
  RULES_REQUEST: 0x56,
  LEGACY_CHALLENGE_REQUEST: 0x57,
  CHALLENGE_REPLY: 0x41,
  INFO_REPLY: 0x49,
  PLAYER_REPLY: 0x44,
  RULES_REPLY: 0x45,
} as const;

export const INFO_PAYLOAD = 'Source Engine Query\0';
/** Bytes before the payload in a split packet: header, id, total, number, size. */
export const SPLIT_HEADER_BYTES = 12;

export type A2sRequest =
  | { kind: 'info'; challenge: number | null }
  | { kind: 'player' | 'rules'; challenge: number }
  | { kind: 'challenge' };

/** Decodes one request datagram; null for anything that is not an A2S request. */
export function decodeRequest(msg: Buffer): A2sRequest | null {
  if (msg.length < 5 || msg.readInt32LE(0) !== A2S.SIMPLE) return null;
  const type = msg[4];
  if (type === A2S.INFO_REQUEST) {
    const end = 5 + INFO_PAYLOAD.length;
    if (msg.length < end || msg.toString('latin1', 5, end) !== INFO_PAYLOAD) return null;
    return { kind: 'info', challenge: msg.length >= end + 4 ? msg.readUInt32LE(end) : null };
  }
  if (type === A2S.PLAYER_REQUEST || type === A2S.RULES_REQUEST) {
    if (msg.length < 9) return null;
    return { kind: type === A2S.PLAYER_REQUEST ? 'player' : 'rules', challenge: msg.readUInt32LE(5) };
  }
  if (type === A2S.LEGACY_CHALLENGE_REQUEST) return { kind: 'challenge' };
  return null;
}

/** Builds payloads with a growing buffer. */
class Writer {
  #parts: Buffer[] = [];
  byte(n: number): this { return this.#push(Buffer.from([n & 0xff])); }
  int16(n: number): this { const b = Buffer.alloc(2); b.writeUInt16LE(n & 0xffff); return this.#push(b); }
  int32(n: number): this { const b = Buffer.alloc(4); b.writeInt32LE(n | 0); return this.#push(b); }
  uint32(n: number): this { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return this.#push(b); }
  uint64(n: bigint): this { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return this.#push(b); }
  float(n: number): this { const b = Buffer.alloc(4); b.writeFloatLE(n); return this.#push(b); }
  string(s: string): this { return this.#push(Buffer.from(`${s.replace(/\0/g, '')}\0`, 'utf8')); }
  done(): Buffer { return Buffer.concat(this.#parts); }
  #push(b: Buffer): this { this.#parts.push(b); return this; }
}

export interface InfoFields {
  protocol: number;
  name: string;
  map: string;
  folder: string;
  game: string;
  appId: number;
  players: number;
  maxPlayers: number;
  bots: number;
  /** 'd' dedicated. */
  serverType: string;
  /** 'l' linux, 'w' windows. */
  environment: string;
  passwordProtected: boolean;
  vac: boolean;
  version: string;
  gamePort: number;
  steamId: bigint;
  keywords: string;
}

/** A2S_INFO reply with EDF 0x80 (port), 0x10 (steam id), 0x20 (keywords), 0x01 (game id). */
export function encodeInfo(f: InfoFields): Buffer {
  const w = new Writer().int32(A2S.SIMPLE).byte(A2S.INFO_REPLY).byte(f.protocol)
    .string(f.name).string(f.map).string(f.folder).string(f.game)
    // The short app id field only holds 16 bits; modern games put the real one in the game id (EDF 0x01).
    .int16(f.appId > 0xffff ? 0 : f.appId)
    .byte(Math.min(f.players, 255)).byte(Math.min(f.maxPlayers, 255)).byte(f.bots)
    .byte(f.serverType.charCodeAt(0)).byte(f.environment.charCodeAt(0))
    .byte(f.passwordProtected ? 1 : 0).byte(f.vac ? 1 : 0)
    .string(f.version);
  const edf = 0x80 | 0x10 | (f.keywords ? 0x20 : 0) | 0x01;
  w.byte(edf).int16(f.gamePort).uint64(f.steamId);
  if (f.keywords) w.string(f.keywords);
  w.uint64(BigInt(f.appId & 0xffffff));
  return w.done();
}

export interface PlayerFields { name: string; score: number; seconds: number }

export function encodePlayers(players: PlayerFields[]): Buffer {
  const list = players.slice(0, 255);
  const w = new Writer().int32(A2S.SIMPLE).byte(A2S.PLAYER_REPLY).byte(list.length);
  for (const p of list) w.byte(0).string(p.name).int32(p.score).float(p.seconds);
  return w.done();
}

export function encodeRules(rules: Array<[string, string]>): Buffer {
  const w = new Writer().int32(A2S.SIMPLE).byte(A2S.RULES_REPLY).int16(rules.length);
  for (const [k, v] of rules) w.string(k).string(v);
  return w.done();
}

export function encodeChallenge(challenge: number): Buffer {
  return new Writer().int32(A2S.SIMPLE).byte(A2S.CHALLENGE_REPLY).uint32(challenge).done();
}

/**
 * Splits a full reply (starting FF FF FF FF) into datagrams of at most `mtu`
 * bytes: FE FF FF FF, int32 id (top bit clear: no bzip2), byte total,
 * byte number, int16 size (the mtu), then the slice.
 */
export function splitPacket(full: Buffer, mtu: number, id: number): Buffer[] {
  if (full.length <= mtu) return [full];
  const chunk = mtu - SPLIT_HEADER_BYTES;
  const total = Math.ceil(full.length / chunk);
  if (total > 255) throw new RangeError(`reply of ${full.length} bytes needs ${total} packets at mtu ${mtu}`);
  const out: Buffer[] = [];
  for (let n = 0; n < total; n++) {
    const head = Buffer.alloc(SPLIT_HEADER_BYTES);
    head.writeInt32LE(A2S.SPLIT, 0);
    head.writeInt32LE(id & 0x7fffffff, 4);
    head.writeUInt8(total, 8);
    head.writeUInt8(n, 9);
    head.writeUInt16LE(mtu, 10);
    out.push(Buffer.concat([head, full.subarray(n * chunk, (n + 1) * chunk)]));
  }
  return out;
}
