/**
 * Everything a game tells us (A2S, Server List Ping, REST, RCON output) is
 * outside data: any length, any characters, any type. It is cut and cleaned
 * here, where it enters the agent, to the limits of the status the agent
 * publishes (protocol StatusLimits). A 701-character map name once made every
 * status fail its own schema, so the hub never heard of a crash.
 */
import { StatusLimits } from '../../../protocol/status.ts';
import type { QueryResult } from '../../types.ts';

/**
 * C0/C1 controls (newlines and tabs included: a status field is one line),
 * zero-width and bidi controls that let a name pose as another, and the BOM.
 */
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** Half of a surrogate pair on its own: not valid UTF-16, and JSON encoders disagree about it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Player counts above this are a broken reply, not a server. */
const MAX_COUNT = 1_000_000;

/**
 * One line of text from a game, at most `max` UTF-16 units (what zod's max
 * counts), never ending in half a surrogate pair; null when nothing is left
 * or it was not text at all.
 */
export function cleanText(value: unknown, max: number): string | null {
  if (typeof value !== 'string') return null;
  // Cut first, generously, so a hostile megabyte is not scanned character by character.
  let s = value.length > max * 4 ? value.slice(0, max * 4) : value;
  s = s.replace(LONE_SURROGATE, '\ufffd').replace(UNSAFE_CHARS, ' ').replace(/\s+/g, ' ').trim();
  if (s.length > max) {
    s = s.slice(0, max);
    if (/[\ud800-\udbff]$/.test(s)) s = s.slice(0, -1);
    s = s.trimEnd();
  }
  return s === '' ? null : s;
}

/** A player count: a non-negative integer, 0 when the game sent something else. */
export function cleanCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.min(Math.floor(value), MAX_COUNT) : 0;
}

/** Player names: text only, each cut to the limit, empty ones left out, at most the limit in number. */
export function cleanNames(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const n of list) {
    if (out.length >= StatusLimits.playerNames) break;
    const name = cleanText(n, StatusLimits.playerName);
    if (name !== null) out.push(name);
  }
  return out;
}

/** A probe's answer made safe to publish, whatever the game put in it. */
export function cleanQueryResult(r: unknown): QueryResult {
  const o = (r && typeof r === 'object' ? r : {}) as { players?: unknown; map?: unknown; version?: unknown };
  const p = (o.players && typeof o.players === 'object' ? o.players : {}) as { online?: unknown; max?: unknown; names?: unknown };
  return {
    players: { online: cleanCount(p.online), max: cleanCount(p.max), names: cleanNames(p.names) },
    map: cleanText(o.map, StatusLimits.map),
    version: cleanText(o.version, StatusLimits.version),
  };
}
