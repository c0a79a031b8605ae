/**
 * Status over gamedig, for query.kind gamedig: a game without a profile of its
 * own, watched for status only. Profiled A2S games use our own client
 * (a2s.ts). This module is imported lazily, on the first such query, so an
 * agent that has no such server never loads gamedig (~30 MiB). Always the real
 * query port with givenPortOnly: gamedig's own port offsets are stale for
 * several games (games.md).
 */
import { GameDig, type GameDigResult } from 'gamedig';
import { StatusLimits } from '../../../protocol/status.ts';
import type { QueryResult, ResolvedServer } from '../../types.ts';
import { cleanCount, cleanNames, cleanText } from './clean.ts';
import { playersFromKeywords, versionFromKeywords } from './keywords.ts';

/**
 * One GameDig instance for the agent: it owns a single UDP socket for every
 * query, and with the port cache off, instances share nothing else.
 */
let shared: GameDig | null = null;
function gamedig(): GameDig {
  shared ??= new GameDig();
  return shared;
}

/** Maps a gamedig result to our shape; exported for tests. */
export function toQueryResult(r: GameDigResult, server: Pick<ResolvedServer, 'query' | 'profile'>): QueryResult {
  const tags = Array.isArray(r.raw.tags) ? r.raw.tags.filter((t): t is string => typeof t === 'string') : [];
  let online = r.numplayers;
  let max = r.maxplayers;
  if (server.query.playersFromKeywords) {
    const k = playersFromKeywords(tags);
    online = k.online ?? online;
    max = k.max ?? max;
  }
  // Valheim and ARK send empty names: count them, do not list them.
  // Array.from: gamedig's Players subclasses Array, and map() would keep that class.
  const names = cleanNames(Array.from(r.players, (p) => p.name));
  const version = server.profile.query.versionFrom === 'keywords' ? versionFromKeywords(tags) : r.version && r.version !== 'undefined' ? r.version : null;
  return {
    players: { online: cleanCount(online), max: cleanCount(max), names },
    map: cleanText(r.map, StatusLimits.map),
    version: cleanText(version, StatusLimits.version),
  };
}

export async function queryGamedig(server: ResolvedServer, timeoutMs: number): Promise<QueryResult> {
  const type = server.query.gamedigType;
  if (!type) throw new Error(`game profile "${server.profile.id}" has no query.gamedigType`);
  const r = await gamedig().query({
    type,
    host: server.query.host,
    port: server.query.port,
    givenPortOnly: true,
    portCache: false,
    maxRetries: 1,
    // INFO, then PLAYER (which may time out and is then skipped): both must fit in the attempt.
    socketTimeout: Math.max(100, Math.floor(timeoutMs / 3)),
    attemptTimeout: timeoutMs,
    requestRules: false,
  });
  return toQueryResult(r, server);
}
