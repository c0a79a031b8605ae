import { createHash, randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import type { Listener, SimContext } from './context.ts';
import {
  decodeRequest, encodeChallenge, encodeInfo, encodePlayers, encodeRules, splitPacket, type InfoFields,
} from './a2s-codec.ts';

/** Source protocol version servers report today. */
const PROTOCOL_VERSION = 17;
/** Valheim reports a fixed engine version; its real version is in the keywords. */
const VALHEIM_INFO_VERSION = '1.0.0.0';

/**
 * Issues challenges. Fixed: one stable value per client address for the
 * server's life. Rotating: every challenge is good once, each 0x41 reply
 * carries a fresh one (a client must re-ask, as with a server that rotated).
 */
class Challenges {
  readonly #secret = randomBytes(16);
  readonly #current = new Map<string, number>();
  readonly #rotate: boolean;
  constructor(rotate: boolean) {
    this.#rotate = rotate;
  }

  issue(addr: string): number {
    if (!this.#rotate) return this.#fixed(addr);
    let c = randomInt(1, 0x7fffffff);
    if (c === this.#current.get(addr)) c += 1;
    this.#current.set(addr, c);
    return c;
  }

  /** True if the challenge is good; a rotating one is used up. */
  accept(addr: string, challenge: number | null): boolean {
    if (challenge === null || challenge === 0xffffffff) return false;
    if (!this.#rotate) return challenge === this.#fixed(addr);
    if (this.#current.get(addr) !== challenge) return false;
    this.#current.delete(addr);
    return true;
  }

  #fixed(addr: string): number {
    const h = createHash('sha256').update(this.#secret).update(addr).digest();
    return (h.readUInt32LE(0) & 0x7fffffff) || 1;
  }
}

export interface A2sServerOptions {
  host: string;
  port: number;
  /** Reported in EDF 0x80. 0 = this socket's own port (A2S on the game port). */
  gamePort: number;
}

export async function startA2sServer(ctx: SimContext, o: A2sServerOptions): Promise<Listener> {
  const game = ctx.options.profile.a2s;
  if (!game) throw new Error(`${ctx.options.game} does not answer A2S`);
  const a2s = ctx.options.a2s;
  const challenges = new Challenges(a2s.rotateChallenge);
  const socket = dgram.createSocket('udp4');
  const steamId = 90_000_000_000_000_000n + BigInt(randomInt(1, 1_000_000));

  const send = (buf: Buffer, port: number, address: string) => {
    for (const part of splitPacket(buf, a2s.mtu, randomInt(1, 0x7fffffff))) socket.send(part, port, address);
  };

  const info = (): InfoFields => {
    const players = ctx.players().length;
    const o2 = ctx.options;
    return {
      protocol: PROTOCOL_VERSION, name: o2.serverName, map: o2.map, folder: game.folder, game: game.gameName,
      appId: game.appId, players, maxPlayers: o2.maxPlayers, bots: 0, serverType: 'd',
      environment: process.platform === 'win32' ? 'w' : 'l', passwordProtected: o2.passwordProtected, vac: game.vac,
      version: game.keywords === 'valheim' ? VALHEIM_INFO_VERSION : o2.version,
      gamePort: o.gamePort || boundPort(), steamId, keywords: keywords(ctx, game.keywords, players),
    };
  };

  const rules = (): Array<[string, string]> => [
    ['sim_game', ctx.options.game],
    ['mapname', ctx.options.map],
    ['version', ctx.options.version],
    ['ServerPassword_b', String(ctx.options.passwordProtected)],
    ['generation', String(ctx.generation)],
  ];

  socket.on('message', (msg, rinfo) => {
    // A hung game's UDP backlog is worthless (the challenges have moved on): drop it.
    if (ctx.hung) return;
    const req = decodeRequest(msg);
    if (!req) return;
    const addr = `${rinfo.address}:${rinfo.port}`;
    const reply = (b: Buffer) => send(b, rinfo.port, rinfo.address);
    switch (req.kind) {
      case 'challenge':
        return reply(encodeChallenge(challenges.issue(addr)));
      case 'info':
        if (a2s.infoChallenge && !challenges.accept(addr, req.challenge)) return reply(encodeChallenge(challenges.issue(addr)));
        return reply(encodeInfo(info()));
      case 'player':
      case 'rules': {
        if (!challenges.accept(addr, req.challenge)) return reply(encodeChallenge(challenges.issue(addr)));
        if (req.kind === 'player') {
          if (a2s.timeoutPlayers) return;
          const now = Date.now();
          return reply(encodePlayers(ctx.players().map((p) => ({
            name: a2s.emptyPlayerNames ? '' : p.name, score: p.score, seconds: Math.max(0, (now - p.joinedAt) / 1000),
          }))));
        }
        if (a2s.timeoutRules) return;
        return reply(encodeRules(rules()));
      }
    }
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(o.port, o.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (err) => ctx.log(`a2s socket error: ${err.message}`));
  const boundPort = () => socket.address().port;
  return {
    port: boundPort(),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function keywords(ctx: SimContext, style: 'rust' | 'valheim' | 'plain', players: number): string {
  if (ctx.options.a2s.keywords !== null) return ctx.options.a2s.keywords;
  const o = ctx.options;
  switch (style) {
    case 'rust':
      return `mp${o.maxPlayers},cp${players},ptrak,qp0,v${o.version},h0000000000,stok,born${Math.floor(ctx.startedAt / 1000)},gmrust,cs0`;
    case 'valheim':
      return `g=${o.version},n=34,m=`;
    case 'plain':
      return '';
  }
}

/** Holds a UDP port for a game that answers nothing on it (the real game traffic port). */
export async function startUdpPlaceholder(host: string, port: number): Promise<Listener> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return { port: socket.address().port, close: () => new Promise<void>((r) => socket.close(() => r())) };
}
