/**
 * gamedig renamed several ids (arkse → ase, 7d2d → sdtd, przomboid →
 * projectzomboid): a profile with query.kind gamedig that names a stale one is
 * caught by config check (and so at agent start), with gamedig's new name.
 *
 * Async on purpose: gamedig is ~30 MiB once loaded, so it is imported only here
 * and in the gamedig probe, and only for a profile that uses it. Profiles with
 * query.kind a2s use our own client and never load it (agent/monitors/query/a2s.ts).
 */
import type { GameProfile } from './profile.ts';

export async function gamedigTypeProblems(profile: Pick<GameProfile, 'query'>, key: string): Promise<string[]> {
  const type = profile.query.gamedigType;
  if (profile.query.kind !== 'gamedig' || type === undefined) return [];
  const { games, protocols } = await import('gamedig');
  if (type.startsWith('protocol-')) {
    return type.slice('protocol-'.length) in protocols ? [] : [`${key}: "${type}" is not a protocol of the installed gamedig`];
  }
  if (type in games) return [];
  const renamed = Object.entries(games).find(([, g]) => g.extra?.old_id === type)?.[0];
  return [`${key}: "${type}" is not a game id of the installed gamedig${renamed ? `; it was renamed to "${renamed}"` : ' (see node_modules/gamedig/lib/games.js)'}`];
}
