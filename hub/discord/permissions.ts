import { GuildMember, type Interaction } from 'discord.js';
import type { DiscordConfig } from '../config.ts';

export const levels = ['viewer', 'operator', 'admin'] as const;
export type Level = (typeof levels)[number];

/**
 * A member's level from the configured role ids. Admin implies operator
 * implies viewer; an empty viewer list lets everyone in the guild view.
 */
export function levelOf(roles: DiscordConfig['roles'], memberRoles: readonly string[]): Level | null {
  const has = (list: readonly string[]) => list.some((r) => memberRoles.includes(r));
  if (has(roles.admin)) return 'admin';
  if (has(roles.operator)) return 'operator';
  if (roles.viewer.length === 0 || has(roles.viewer)) return 'viewer';
  return null;
}

export function allows(have: Level | null, need: Level): boolean {
  return have !== null && levels.indexOf(have) >= levels.indexOf(need);
}

/** Role ids of whoever triggered the interaction (none outside a guild). */
export function memberRoles(i: Interaction): string[] {
  const m = i.member;
  if (!m) return [];
  if (m instanceof GuildMember) return [...m.roles.cache.keys()];
  return Array.isArray(m.roles) ? m.roles : [];
}
