/**
 * A minimal Steam A2S responder on 127.0.0.1 (UDP, port 0) for the status-probe
 * tests. It can answer with or without a challenge (fixed or rotating), split
 * replies into FE-packets, stall on chosen requests, and carry any keywords.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';

export interface A2sInfo {
  name: string;
  map: string;
  folder: string;
  game: string;
  appId: number;
  players: number;
  maxPlayers: number;
  bots?: number;
  version: string;
  keywords?: string;
  gamePort?: number;
}

export interface A2sPlayer {
  name: string;
  score?: number;
  duration?: number;
}

export interface A2sFakeOptions {
  info: A2sInfo;
  players?: A2sPlayer[];
  challenge?: 'none' | 'fixed' | 'rotating';
  /** Split replies whose payload is longer than this many bytes. */
  splitAt?: number;
  /** Requests to ignore (INFO, PLAYER, RULES). */
  stall?: Array<'info' | 'players' | 'rules'>;
}

const HEADER = Buffer.from([0xff, 0xff, 0xff, 0xff]);

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

export function encodeInfo(info: A2sInfo): Buffer {
  const appId = Buffer.alloc(2);
  appId.writeUInt16LE(info.appId & 0xffff);
  let edf = 0;
  const extra: Buffer[] = [];
  if (info.gamePort !== undefined) {
    edf |= 0x80;
    const b = Buffer.alloc(2);
    b.writeUInt16LE(info.gamePort);
    extra.push(b);
  }
  if (info.keywords !== undefined) {
    edf |= 0x20;
    extra.push(cstr(info.keywords));
  }
  edf |= 0x01;
  const gameId = Buffer.alloc(8);
  gameId.writeBigUInt64LE(BigInt(info.appId));
  extra.push(gameId);
  return Buffer.concat([
    Buffer.from([0x49, 17]),
    cstr(info.name), cstr(info.map), cstr(info.folder), cstr(info.game),
    appId,
    Buffer.from([info.players, info.maxPlayers, info.bots ?? 0, 'd'.charCodeAt(0), 'l'.charCodeAt(0), 0, 0]),
    cstr(info.version),
    Buffer.from([edf]),
    ...extra,
  ]);
}

export function encodePlayers(players: A2sPlayer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x44, players.length])];
  players.forEach((p, i) => {
    const nums = Buffer.alloc(8);
    nums.writeInt32LE(p.score ?? 0, 0);
    nums.writeFloatLE(p.duration ?? 60, 4);
    parts.push(Buffer.from([i]), cstr(p.name), nums);
  });
  return Buffer.concat(parts);
}

export class A2sFake {
  readonly socket = dgram.createSocket('udp4');
  readonly requests: string[] = [];
  #challenge = 0x11223344;
  #splitId = 1;

  constructor(public options: A2sFakeOptions) {
    this.socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
  }

  async start(): Promise<number> {
    this.socket.bind(0, '127.0.0.1');
    await once(this.socket, 'listening');
    return this.socket.address().port;
  }

  get port(): number {
    return this.socket.address().port;
  }

  #send(payload: Buffer, rinfo: dgram.RemoteInfo): void {
    const whole = Buffer.concat([HEADER, payload]);
    const splitAt = this.options.splitAt;
    if (!splitAt || whole.length <= splitAt) {
      this.socket.send(whole, rinfo.port, rinfo.address);
      return;
    }
    const chunks: Buffer[] = [];
    for (let o = 0; o < whole.length; o += splitAt) chunks.push(whole.subarray(o, o + splitAt));
    const id = this.#splitId++ & 0x7fffffff;
    // Send in reverse order: a client must reassemble by number, not arrival.
    chunks.map((chunk, n) => {
      const h = Buffer.alloc(12);
      h.writeInt32LE(-2, 0);
      h.writeInt32LE(id, 4);
      h.writeUInt8(chunks.length, 8);
      h.writeUInt8(n, 9);
      h.writeUInt16LE(splitAt, 10);
      return Buffer.concat([h, chunk]);
    }).reverse().forEach((pkt) => this.socket.send(pkt, rinfo.port, rinfo.address));
  }

  #challengeReply(rinfo: dgram.RemoteInfo): void {
    const b = Buffer.alloc(5);
    b.writeUInt8(0x41, 0);
    b.writeUInt32LE(this.#challenge, 1);
    this.#send(b, rinfo);
  }

  /** Rotating challenges are single-use: the next request must ask again. */
  #validChallenge(value: number | undefined): boolean {
    const mode = this.options.challenge ?? 'none';
    if (mode === 'none') return true;
    if (value !== this.#challenge) return false;
    if (mode === 'rotating') this.#challenge = (this.#challenge * 7 + 13) >>> 0;
    return true;
  }

  #onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 5 || msg.readInt32LE(0) !== -1) return;
    const type = msg[4];
    const stall = this.options.stall ?? [];
    if (type === 0x54) {
      this.requests.push('info');
      if (stall.includes('info')) return;
      const prefix = 'Source Engine Query\0';
      const tail = msg.subarray(5 + prefix.length);
      const got = tail.length >= 4 ? tail.readUInt32LE(0) : undefined;
      if (!this.#validChallenge(got)) return this.#challengeReply(rinfo);
      return this.#send(encodeInfo(this.options.info), rinfo);
    }
    if (type === 0x55 || type === 0x56) {
      const what = type === 0x55 ? 'players' : 'rules';
      this.requests.push(what);
      if (stall.includes(what)) return;
      const got = msg.length >= 9 ? msg.readUInt32LE(5) : undefined;
      // Servers that use no challenge still answer FFFFFFFF with one, as real servers do.
      if (got === 0xffffffff || !this.#validChallenge(got)) return this.#challengeReply(rinfo);
      if (type === 0x55) return this.#send(encodePlayers(this.options.players ?? []), rinfo);
      return this.#send(Buffer.from([0x45, 0, 0]), rinfo);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
