import type { z } from 'zod';
import { didYouMean } from './suggest.ts';

/**
 * Config problems as an operator reads them: list items that have an `id` are
 * named by it (`servers[ark-island].gamePort`, not `servers.2.gamePort`), and
 * an unknown key comes with the nearest known one (`gamport` → `gamePort`).
 */

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
}

/** zod 4 keeps a schema's structure in `_zod.def`; we only read it to list keys for suggestions. */
function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Looks through wrappers (optional, default, pipe...) to the schema that validates the value. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 16; i++) {
    const d = def(s);
    const next = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
    if (!next) return s;
    s = next;
  }
  return s;
}

/** The keys the object schema at `path` accepts; [] when there is none. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = unwrap(schema);
  for (const key of path) {
    const d = def(s);
    if (typeof key === 'number') s = d.element;
    else if (d.shape && typeof key === 'string') s = d.shape[key];
    else s = d.valueType;
    if (!s) return [];
    s = unwrap(s);
  }
  const shape = def(s).shape;
  return shape ? Object.keys(shape) : [];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `servers[ark-island].backup.destinations[1]`; `(root)` for the top. */
export function keyPath(path: readonly PropertyKey[], raw: unknown): string {
  let out = '';
  let node: unknown = raw;
  for (const key of path) {
    if (typeof key === 'number') {
      const item = Array.isArray(node) ? node[key] : undefined;
      const id = isRecord(item) && typeof item.id === 'string' && item.id !== '' ? item.id : undefined;
      out += `[${id ?? key}]`;
      node = item;
    } else {
      out += `${out ? '.' : ''}${String(key)}`;
      node = isRecord(node) ? node[String(key)] : undefined;
    }
  }
  return out || '(root)';
}

/** One line per problem; unknown keys each get their own line with a suggestion. */
export function describeIssues(error: z.ZodError, schema: z.ZodType, raw: unknown): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(schema, issue.path);
      return issue.keys.map((k) => {
        const hint = didYouMean(k, known) || (known.length ? `; expected one of ${known.join(', ')}` : '');
        return `${keyPath([...issue.path, k], raw)}: unknown key${hint}`;
      });
    }
    return [`${keyPath(issue.path, raw)}: ${issue.message}`];
  });
}
