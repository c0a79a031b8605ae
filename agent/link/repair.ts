/**
 * Last line of defence for outgoing events: data that fails its schema
 * because of one decorative field (a map name, a message, one player name)
 * is published without that field instead of not at all, so a state change
 * such as running → crashed is never lost to a cosmetic value. Fields that
 * carry meaning (ids, the state enum, timestamps) cannot be repaired: null,
 * removal or an empty string do not pass their schema, so such data still
 * fails.
 */
import type { z } from 'zod';
import type { Logger } from '../../lib/logger.ts';
import { safeParse } from '../../protocol/safe-parse.ts';
import { firstIssue } from '../../lib/zod-issue.ts';

/**
 * Required objects have no null to fall back to; these stand for "nothing
 * known" in them (no players, no resource figures), keyed by topic and path.
 */
export const neutralValues: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  status: {
    players: { online: 0, max: 0, names: [] },
    resources: { cpuPercent: null, rssBytes: null, diskFreeBytes: null, uptimeSec: null },
  },
};

/** Each repair fixes at least one issue; this bounds the work on a value with many broken fields. */
const MAX_REPAIRS = 64;

export interface Repaired<T> {
  data: T;
  /** What was changed, as "path: zod message", for one log line. */
  fixes: string[];
}

type Path = readonly PropertyKey[];
type Container = Record<PropertyKey, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

function parentOf(root: unknown, path: Path): Container | null {
  let cur: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (!isContainer(cur)) return null;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return isContainer(cur) ? cur : null;
}

/**
 * Replacements to try at `path`, least destructive first: cut an over-long
 * string or list to the schema's maximum, drop a list element, null, remove
 * the key, an empty string, zero.
 */
function candidates(value: unknown, inArray: boolean, maximum: number | null, neutral: unknown): { label: string; apply: (parent: Container, key: PropertyKey) => void }[] {
  const set = (v: unknown) => (parent: Container, key: PropertyKey) => {
    (parent as Record<PropertyKey, unknown>)[key] = v;
  };
  const out: { label: string; apply: (parent: Container, key: PropertyKey) => void }[] = [];
  if (maximum !== null && (typeof value === 'string' || Array.isArray(value))) out.push({ label: `cut to ${maximum}`, apply: set(value.slice(0, maximum)) });
  if (inArray) out.push({ label: 'dropped', apply: (parent, key) => void (parent as unknown[]).splice(Number(key), 1) });
  out.push({ label: 'set to null', apply: set(null) });
  if (!inArray) out.push({ label: 'removed', apply: (parent, key) => void delete (parent as Record<PropertyKey, unknown>)[key] });
  if (typeof value === 'string') out.push({ label: 'emptied', apply: set('') });
  if (typeof value === 'number') out.push({ label: 'set to 0', apply: set(0) });
  if (neutral !== undefined) out.push({ label: 'reset', apply: set(structuredClone(neutral)) });
  return out;
}

/**
 * Repairs `data` against `schema` field by field; null when it cannot be made
 * valid that way (the caller then refuses it as before).
 */
export function repairForSchema<S extends z.ZodType>(schema: S, data: unknown, neutral: Readonly<Record<string, unknown>> = {}): Repaired<z.output<S>> | null {
  let work: unknown;
  try {
    work = structuredClone(data);
  } catch {
    return null;
  }
  const fixes: string[] = [];
  for (let round = 0; round < MAX_REPAIRS; round++) {
    const checked = safeParse(schema, work);
    if (checked.success) return { data: checked.data, fixes };
    const issue = checked.error.issues[0]!;
    const before = checked.error.issues.length;
    const maximum = issue.code === 'too_big' && typeof issue.maximum === 'number' ? issue.maximum : null;
    let fixed = false;
    // The field itself first, then its containers: a list that cannot hold a bad element may still be emptied.
    for (let depth = issue.path.length; depth > 0 && !fixed; depth--) {
      const path = issue.path.slice(0, depth);
      const parent = parentOf(work, path);
      if (!parent) continue;
      const key = path[path.length - 1]!;
      const value = (parent as Record<PropertyKey, unknown>)[key];
      const label = path.map(String).join('.');
      for (const c of candidates(value, Array.isArray(parent), depth === issue.path.length ? maximum : null, neutral[label])) {
        const trial = structuredClone(work);
        c.apply(parentOf(trial, path)!, key);
        const again = safeParse(schema, trial);
        // Fewer issues than before: this one is gone and the change made no new one.
        if (!again.success && again.error.issues.length >= before) continue;
        work = trial;
        fixes.push(`${label}: ${c.label} (${issue.message.slice(0, 120)})`);
        fixed = true;
        break;
      }
    }
    if (!fixed) return null;
  }
  return null;
}

/** Distinct (topic, field) repairs remembered so each is logged once; beyond, repairs are not logged again. */
const REPAIR_LOG_KEYS = 1000;

/**
 * What the link runs on every outgoing event: the data as validated, or
 * repaired without its offending fields (logged once per topic and field
 * set, so a status heartbeat does not log the same cut every few seconds),
 * or why it cannot be repaired.
 */
export class EventGuard {
  readonly #logged = new Set<string>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  check(topic: string, schema: z.ZodType, data: unknown): { data: unknown } | { error: string } {
    const checked = safeParse(schema, data);
    if (checked.success) return { data: checked.data };
    const repaired = repairForSchema(schema, data, neutralValues[topic]);
    if (!repaired) {
      return { error: `${topic}: ${firstIssue(checked.error)}` };
    }
    const key = `${topic}\u0000${repaired.fixes.map((f) => f.slice(0, f.indexOf(':'))).join(',')}`;
    if (!this.#logged.has(key) && this.#logged.size < REPAIR_LOG_KEYS) {
      this.#logged.add(key);
      const owner = data as { serverId?: unknown; id?: unknown };
      this.#log.warn({ topic, serverId: String(owner.serverId ?? owner.id ?? '').slice(0, 64), fixes: repaired.fixes },
        `${topic}: published without the fields that broke its schema (logged once per field)`);
    }
    return repaired;
  }
}
