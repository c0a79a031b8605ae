/**
 * Our own Steam A2S client (INFO, PLAYER, RULES with challenges and split
 * replies), for the profiles whose status is A2S (Valheim, Rust, ARK, 7DTD,
 * Enshrouded, Project Zomboid). It replaced gamedig there: gamedig's protocol
 * table and its dependencies were ~30 MiB of an idle agent's RSS for a
 * protocol that fits in two small files (bench/README.md). gamedig stays for
 * query.kind gamedig (games without a profile), loaded only then.
 *
 * Always the real query port (games.md: gamedig's old port offsets were stale).
 */
import dgram from 'node:dgram';
import { StatusLimits } from '../../../protocol/status.ts';
import type { QueryResult, ResolvedServer } from '../../types.ts';
import {
  A2sError, A2sLimits, A2sType, NO_CHALLENGE, SplitAssembler,
  decodeChallenge, decodeInfo, decodePlayers, decodeRules, encodeChallengedRequest, encodeInfoRequest,
  type A2sInfo, type A2sPlayer,
} from './a2s-wire.ts';
import { cleanCount, cleanNames, cleanText } from './clean.ts';
import { playersFromKeywords, versionFromKeywords } from './keywords.ts';

export const DefaultA2sOptions = {
  /** Resend a request that got no answer after this long (UDP loses datagrams). */
  resendMs: 500,
  /** Challenge replies one request may get before we give up: a rotating challenge needs one. */
  maxChallengeRounds: 3,
} as const;

export interface A2sOptions {
  host: string;
  port: number;
  resendMs?: number;
  maxChallengeRounds?: number;
}

type ReplyType = typeof A2sType.INFO | typeof A2sType.PLAYER | typeof A2sType.RULES;

function aborted(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the A2S query was cancelled');
}

/**
 * One client, one connected UDP socket (so only the server's datagrams reach
 * it). One request at a time: the status probe asks INFO, then PLAYER.
 */
export class A2sClient {
  readonly #socket = dgram.createSocket('udp4');
  readonly #assembler = new SplitAssembler();
  readonly #opts: Required<A2sOptions>;
  #connected: Promise<void> | null = null;
  #waiter: { types: readonly number[]; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  #failure: Error | null = null;

  constructor(opts: A2sOptions) {
    this.#opts = { ...DefaultA2sOptions, ...opts };
    this.#socket.on('message', (msg) => this.#onDatagram(msg));
    // ICMP port unreachable arrives as ECONNREFUSED on a connected socket: the game is not listening.
    this.#socket.on('error', (err) => this.#fail(err));
  }

  info(signal: AbortSignal): Promise<A2sInfo> {
    return this.#request(A2sType.INFO, (c) => encodeInfoRequest(c), null, signal).then(decodeInfo);
  }

  players(signal: AbortSignal): Promise<A2sPlayer[]> {
    return this.#request(A2sType.PLAYER, (c) => encodeChallengedRequest(A2sType.PLAYER_REQUEST, c ?? NO_CHALLENGE), NO_CHALLENGE, signal).then(decodePlayers);
  }

  rules(signal: AbortSignal): Promise<Map<string, string>> {
    return this.#request(A2sType.RULES, (c) => encodeChallengedRequest(A2sType.RULES_REQUEST, c ?? NO_CHALLENGE), NO_CHALLENGE, signal).then(decodeRules);
  }

  close(): void {
    this.#fail(new Error('the A2S client was closed'));
    try {
      this.#socket.close();
    } catch {
      // Already closed.
    }
  }

  async #request(type: ReplyType, build: (challenge: number | null) => Buffer, first: number | null, signal: AbortSignal): Promise<Buffer> {
    await this.#connect();
    let challenge = first;
    for (let round = 0; round <= this.#opts.maxChallengeRounds; round++) {
      const reply = await this.#exchange(build(challenge), [type, A2sType.CHALLENGE], signal);
      if (reply[4] === type) return reply;
      challenge = decodeChallenge(reply);
    }
    throw new A2sError('challenge', `the server answered ${this.#opts.maxChallengeRounds + 1} requests with a new challenge each time`);
  }

  /** Sends `request` and resends it every resendMs until a reply of one of `types` arrives or `signal` aborts. */
  #exchange(request: Buffer, types: readonly number[], signal: AbortSignal): Promise<Buffer> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (signal.aborted) return Promise.reject(aborted(signal));
    this.#assembler.reset();
    return new Promise<Buffer>((resolve, reject) => {
      const send = () => this.#socket.send(request);
      const timer = setInterval(send, this.#opts.resendMs);
      const done = () => {
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
        this.#waiter = null;
      };
      const onAbort = () => {
        done();
        reject(aborted(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiter = {
        types,
        resolve: (b) => { done(); resolve(b); },
        reject: (e) => { done(); reject(e); },
      };
      send();
    });
  }

  #connect(): Promise<void> {
    this.#connected ??= new Promise<void>((resolve, reject) => {
      this.#socket.once('error', reject);
      this.#socket.connect(this.#opts.port, this.#opts.host, () => {
        this.#socket.off('error', reject);
        resolve();
      });
    });
    return this.#connected;
  }

  #onDatagram(msg: Buffer): void {
    const waiter = this.#waiter;
    if (!waiter) return; // A late answer to a request we stopped waiting for.
    try {
      if (msg.length > A2sLimits.maxDatagramBytes) throw new A2sError('oversized', `a datagram of ${msg.length} bytes is over the ${A2sLimits.maxDatagramBytes}-byte limit`);
      if (msg.length < 5) return;
      const head = msg.readInt32LE(0);
      const whole = head === A2sType.SIMPLE ? msg : head === A2sType.SPLIT ? this.#assembler.push(msg) : null;
      if (whole && waiter.types.includes(whole[4] ?? -1)) waiter.resolve(whole);
    } catch (err) {
      waiter.reject(err as Error);
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#waiter?.reject(err);
  }
}

/** Budget for A2S_PLAYER inside the whole query: names are optional, INFO is not. */
function playersBudget(timeoutMs: number): number {
  return Math.max(100, Math.floor(timeoutMs / 3));
}

/**
 * The status of an A2S game: INFO, then PLAYER for the names (skipped when it
 * does not answer in a third of the budget: Valheim's names are empty anyway,
 * and some servers never answer it). `signal` ends the whole query.
 */
export async function queryA2s(server: Pick<ResolvedServer, 'query' | 'profile'>, timeoutMs: number, signal: AbortSignal): Promise<QueryResult> {
  const client = new A2sClient({ host: server.query.host, port: server.query.port, resendMs: Math.max(100, Math.floor(timeoutMs / 3)) });
  try {
    const info = await client.info(signal);
    let players: A2sPlayer[] = [];
    const budget = AbortSignal.any([signal, AbortSignal.timeout(playersBudget(timeoutMs))]);
    try {
      players = await client.players(budget);
    } catch (err) {
      if (signal.aborted) throw err;
      // No names this time; the counts come from INFO.
    }
    return toQueryResult(info, players, server);
  } finally {
    client.close();
  }
}

/** Maps A2S answers to our status shape through the same cleaning as every probe; exported for tests. */
export function toQueryResult(info: A2sInfo, players: readonly A2sPlayer[], server: Pick<ResolvedServer, 'query' | 'profile'>): QueryResult {
  let online = info.players;
  let max = info.maxPlayers;
  if (server.query.playersFromKeywords) {
    const k = playersFromKeywords(info.keywords);
    online = k.online ?? online;
    max = k.max ?? max;
  }
  // Valheim and ARK send empty names: count them, do not list them.
  const names = cleanNames(players.map((p) => p.name));
  const version = server.profile.query.versionFrom === 'keywords' ? versionFromKeywords(info.keywords) : info.version || null;
  return {
    players: { online: cleanCount(online), max: cleanCount(max), names },
    map: cleanText(info.map, StatusLimits.map),
    version: cleanText(version, StatusLimits.version),
  };
}
