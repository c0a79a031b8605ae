/**
 * Status for games without a usable public query: Palworld (REST), Satisfactory
 * (HTTPS API) and ASA (RCON `listplayers`; Epic's online service is not
 * reachable offline, so gamedig's asa type is no use).
 */
import type { AdminChannel, QueryResult, ResolvedServer } from '../../types.ts';
import { PalworldRestClient } from '../admin/palworld-rest.ts';
import { AdminChannelError } from '../admin/common.ts';
import { StatusLimits } from '../../../protocol/status.ts';
import { cleanNames, cleanText } from './clean.ts';
import type { SatisfactoryApiClient } from '../admin/satisfactory-api.ts';

function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
}

/** GET info + players (+ metrics for max players, when the server has it). */
export async function queryPalworld(client: PalworldRestClient, signal: AbortSignal): Promise<QueryResult> {
  const [info, players, metrics] = await Promise.all([
    client.call({ method: 'GET', path: 'info' }, signal),
    client.call({ method: 'GET', path: 'players' }, signal),
    // Older servers lack /metrics; max players is then unknown (0), not an error.
    client.call({ method: 'GET', path: 'metrics' }, signal).catch((err: unknown) => {
      if (err instanceof AdminChannelError && err.reason === 'http') return undefined;
      throw err;
    }),
  ]);
  const list = (players as { players?: unknown } | undefined)?.players;
  const playerNames = Array.isArray(list) ? cleanNames(list.map((p: unknown) => (p && typeof p === 'object' ? (p as { name?: unknown }).name : undefined))) : [];
  const m = metrics as { currentplayernum?: unknown; maxplayernum?: unknown } | undefined;
  const version = (info as { version?: unknown } | undefined)?.version;
  return {
    players: {
      online: count(m?.currentplayernum) ?? (Array.isArray(list) ? list.length : 0),
      max: count(m?.maxplayernum) ?? 0,
      names: playerNames,
    },
    map: null,
    version: cleanText(version, StatusLimits.version),
  };
}

/** QueryServerState with the admin token, or a passwordless Client token. */
export async function querySatisfactory(client: SatisfactoryApiClient, signal: AbortSignal): Promise<QueryResult> {
  const token = await client.readToken(signal);
  let data: unknown;
  try {
    data = await client.call({ function: 'QueryServerState' }, token, signal);
  } catch (err) {
    if (err instanceof AdminChannelError && err.reason === 'auth') client.forgetToken();
    throw err;
  }
  const state = (data as { serverGameState?: { numConnectedPlayers?: unknown; playerLimit?: unknown; activeSessionName?: unknown } } | undefined)?.serverGameState;
  if (!state) throw new AdminChannelError('protocol', 'Satisfactory QueryServerState gave no serverGameState');
  return {
    players: { online: count(state.numConnectedPlayers) ?? 0, max: count(state.playerLimit) ?? 0, names: [] },
    // The session name is the closest thing to a map the API reports.
    map: cleanText(state.activeSessionName, StatusLimits.map),
    version: null,
  };
}

/**
 * ARK/ASA `listplayers`: "0. Name, 76561198000000000" per player (ASA: an EOS
 * id), or "No Players Connected".
 */
export function parseArkPlayers(output: string): string[] {
  const found: string[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s*\d+\.\s*(.*),\s*\S+\s*$/.exec(line);
    if (m) found.push(m[1]!.trim());
  }
  return found;
}

/** Players over the admin channel; max players comes from vars.maxPlayers, since RCON does not tell it. */
export async function queryOverRcon(server: ResolvedServer, channel: AdminChannel, signal: AbortSignal): Promise<QueryResult> {
  const command = server.profile.admin.playersCommand ?? 'listplayers';
  const out = await channel.exec(command, signal);
  const list = parseArkPlayers(out);
  const max = Number(server.config.vars.maxPlayers ?? server.profile.vars.maxPlayers ?? 0);
  return {
    players: { online: list.length, max: Number.isFinite(max) && max > 0 ? Math.floor(max) : 0, names: cleanNames(list) },
    map: cleanText(server.config.vars.map ?? server.profile.vars.map, StatusLimits.map),
    version: null,
  };
}
