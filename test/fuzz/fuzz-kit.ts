/**
 * Seeded, reproducible fuzzing helpers (no dependencies): a PRNG, random
 * bytes/strings/JSON, structural and textual mutators, hostile values, and a
 * prototype-pollution guard.
 *
 * Every run prints its seed. Reproduce a failure with
 *   FUZZ_SEED=<seed> node --import tsx --test test/fuzz/<file>.test.ts
 * Each iteration draws from its own generator derived from (seed, index), so
 * the iteration named in a failure message replays the same input whatever
 * FUZZ_ITERATIONS is.
 */
import { randomInt } from 'node:crypto';
import type { TestContext } from 'node:test';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/** sfc32 seeded through splitmix32: fast, good enough, and the same on every platform. */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const rng: Rng = {
    next,
    int: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
  return rng;
}

/** The generator for one iteration: depends only on the run seed and the index. */
export function iterationRng(seed: number, index: number): Rng {
  return createRng((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}

export interface FuzzRun {
  seed: number;
  iterations: number;
  /** "FUZZ_SEED=… iteration i": put it in every failure message. */
  where(index: number): string;
}

/** Reads FUZZ_SEED / FUZZ_ITERATIONS (defaults: a fresh random seed, `defaultIterations`) and prints them. */
export function fuzzRun(t: TestContext, name: string, defaultIterations: number): FuzzRun {
  const seedEnv = process.env.FUZZ_SEED;
  const seed = seedEnv !== undefined && seedEnv !== '' ? Number(seedEnv) >>> 0 : randomInt(0, 2 ** 31);
  const itEnv = process.env.FUZZ_ITERATIONS;
  const iterations = itEnv !== undefined && itEnv !== '' ? Math.max(1, Number.parseInt(itEnv, 10)) : defaultIterations;
  const line = `fuzz ${name}: seed ${seed}, ${iterations} iterations (reproduce: FUZZ_SEED=${seed})`;
  t.diagnostic(line);
  process.stderr.write(`${line}\n`);
  return { seed, iterations, where: (i) => `FUZZ_SEED=${seed} iteration ${i}` };
}

// ---- values ------------------------------------------------------------------

/** Object keys that have bitten JavaScript parsers and mergers before. */
export const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then', 'length'] as const;

export const HUGE_NUMBER_TEXTS = ['1e999', '-1e999', '1e308', '-1e-400', '123456789012345678901234567890', '9007199254740993', '-0', '0.0000000000000000001', '1E+2', '-9223372036854775809'] as const;

const LONG_STRING = 'x'.repeat(70_000);

/**
 * An object whose `length` cannot be turned into a number: zod 4.6.7 runs its
 * min/max length checks on any input with a `length`, even after the type check
 * failed, and `length >= min` then throws TypeError instead of returning an issue.
 */
export const HOSTILE_LENGTH = Object.freeze({ length: Object.freeze({ valueOf: 1, toString: 1 }) });

export function hostileValues(): unknown[] {
  return [
    0, -0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1e308, -1e308, 5e-324,
    '', ' ', '\u0000', '\ud800', '\u202e', '💥', '../../etc/passwd', '${HOME}', '%s%n', '<@everyone>', LONG_STRING, { length: { valueOf: 1, toString: 1 } }, { length: [{ toString: 1 }] },
    null, true, false, [], {}, [null], { __proto__: null }, [[[[[]]]]],
  ];
}

const CHARS = 'abcXYZ019 _-.:/\\"\'{}[],\n\t\u0000\u0007\u00e9\u4e2d\ud83d\ude00';

export function randomString(rng: Rng, maxLen = 24): string {
  const n = rng.chance(0.05) ? rng.range(200, 5000) : rng.int(maxLen + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.02)) s += String.fromCharCode(0xd800 + rng.int(0x800)); // lone surrogates
    else s += CHARS[rng.int(CHARS.length)];
  }
  return s;
}

export function randomBytes(rng: Rng, maxLen = 256): Buffer {
  const b = Buffer.allocUnsafe(rng.int(maxLen + 1));
  for (let i = 0; i < b.length; i++) b[i] = rng.int(256);
  return b;
}

function randomNumber(rng: Rng): number {
  switch (rng.int(6)) {
    case 0: return rng.int(10);
    case 1: return rng.range(-1000, 100_000);
    case 2: return (rng.next() - 0.5) * 10 ** rng.range(-10, 308);
    case 3: return rng.pick([0, -0, 1, -1, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 5e-324]);
    case 4: return rng.next();
    default: return rng.range(0, 2 ** 31);
  }
}

export function randomKey(rng: Rng): string {
  return rng.chance(0.15) ? rng.pick(HOSTILE_KEYS) : rng.chance(0.7) ? rng.pick(['type', 'id', 'seq', 'data', 'params', 'ok', 'result', 'error', 'topic', 'method', 'a', 'b', 'servers', 'code']) : randomString(rng, 12);
}

/** A random JSON value (objects may carry hostile keys as own properties, as JSON.parse would make them). */
export function randomJson(rng: Rng, depth = 4): unknown {
  const kind = depth <= 0 ? rng.int(5) : rng.int(7);
  switch (kind) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return randomNumber(rng);
    case 3: return randomString(rng);
    case 4: return rng.pick(hostileValues());
    case 5: return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(6); i > 0; i--) defineOwn(o, randomKey(rng), randomJson(rng, depth - 1));
      return o;
    }
  }
}

/** Sets an own property even for "__proto__" (plain assignment would change the prototype instead). */
export function defineOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Copies the levels a mutation can touch (slots() stops at depth 12); deeper parts are shared, never modified. */
function clone(v: unknown, depth = 0): unknown {
  if (depth > 14) return v;
  if (Array.isArray(v)) return v.map((x) => clone(x, depth + 1));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) defineOwn(o, k, clone(x, depth + 1));
    return o;
  }
  return v;
}

/** Every container in the value, with a setter for each slot, so a mutation can hit any depth. */
function slots(root: unknown): { parent: Record<string, unknown> | unknown[]; key: string | number }[] {
  const out: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 12) return;
    if (Array.isArray(v)) v.forEach((x, i) => (out.push({ parent: v, key: i }), walk(x, depth + 1)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (out.push({ parent: v as Record<string, unknown>, key: k }), walk(x, depth + 1));
  };
  walk(root, 0);
  return out;
}

function swapType(rng: Rng, v: unknown): unknown {
  if (typeof v === 'string') return rng.pick([Number(v) || 1, v.length > 0, null, [v], { v }]);
  if (typeof v === 'number') return rng.pick([String(v), -v, v + 0.5, v * 1e300, null, [v], v > 0]);
  if (typeof v === 'boolean') return rng.pick([String(v), Number(v), null, !v]);
  if (v === null || v === undefined) return rng.pick([0, '', false, {}, [], null]);
  if (Array.isArray(v)) return rng.pick([{ ...v }, v.length, `[${v.length}]`, null, v[0]]);
  return rng.pick([[v], 'object', 1, null, Object.values(v as object)]);
}

/** Nests `inner` `depth` levels deep in arrays or objects. */
export function nest(depth: number, inner: unknown = 0, asObject = false): unknown {
  let v = inner;
  for (let i = 0; i < depth; i++) v = asObject ? { a: v } : [v];
  return v;
}

/** JSON text nesting `inner` `depth` levels deep, built as text: deeper than JSON.stringify could go. */
export function deepJsonText(depth: number, inner = '1', asObject = false): string {
  return asObject ? '{"a":'.repeat(depth) + inner + '}'.repeat(depth) : '['.repeat(depth) + inner + ']'.repeat(depth);
}

/**
 * Depths for deep text: around MAX_JSON_DEPTH (64, counting the frame's own
 * levels), and past JSON.stringify's ~5 000. Kept under ~100 KB so the socket
 * fuzzers stay fast; the 100 000-level cases have their own tests
 * (hub-deep-nesting, game-replies-deep, agent-link) and frames.test.ts goes to 200 000.
 */
export const DEEP_TEXT_DEPTHS = [40, 70, 5_000, 20_000] as const;

/**
 * Puts deep nesting (built as text, deeper than JSON.stringify could write)
 * into one value position of a JSON text: the value of any key (`type`
 * included; the old value moves to a renamed key), the first element of an
 * array, or the whole text.
 */
export function deepenText(rng: Rng, text: string): string {
  const deep = deepJsonText(rng.pick(DEEP_TEXT_DEPTHS), rng.pick(['1', '"x"', '{}', '[]', 'null', '{"type":"req"}']), rng.chance(0.5));
  const keys = [...text.matchAll(/"(?:[^"\\]|\\.)*"\s*:/g)];
  const arrays = [...text.matchAll(/\[/g)];
  if ((keys.length === 0 && arrays.length === 0) || rng.chance(0.05)) return deep;
  if (keys.length > 0 && (arrays.length === 0 || rng.chance(0.8))) {
    const m = rng.pick(keys);
    const at = m.index + m[0].length;
    const key = m[0].slice(0, m[0].lastIndexOf('"'));
    return `${text.slice(0, at)}${deep},${key}__":${text.slice(at)}`;
  }
  const at = rng.pick(arrays).index + 1;
  return `${text.slice(0, at)}${deep}${/^\s*\]/.test(text.slice(at)) ? '' : ','}${text.slice(at)}`;
}

/** One structural mutation of a JSON-like value (the input is not modified). */
export function mutateValue(rng: Rng, value: unknown): unknown {
  const root = clone(value);
  const all = slots(root);
  if (all.length === 0 || rng.chance(0.03)) return rng.chance(0.5) ? randomJson(rng) : swapType(rng, root);
  const { parent, key } = rng.pick(all);
  const get = () => (parent as Record<string | number, unknown>)[key];
  const set = (v: unknown) => (Array.isArray(parent) ? (parent[key as number] = v) : defineOwn(parent, key as string, v));
  switch (rng.int(10)) {
    case 0: // drop
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 1: set(swapType(rng, get())); break;
    case 2: set(rng.pick(hostileValues())); break;
    case 3: set(randomJson(rng, 3)); break;
    case 4: // hostile key next to the real ones
      if (!Array.isArray(parent)) defineOwn(parent, rng.pick(HOSTILE_KEYS), rng.chance(0.5) ? { polluted: 'yes', isAdmin: true } : randomJson(rng, 2));
      else parent.push(randomJson(rng, 2));
      break;
    case 5: set(nest(rng.pick([16, 200, 2_000]), get(), rng.chance(0.5))); break; // deeper nesting: see deepJsonText
    case 6: set(typeof get() === 'number' ? rng.pick([1e308, -1e308, 2 ** 53 + 2, -0, 0.5, -1, 2 ** 32]) : randomNumber(rng)); break;
    case 7: // grow an array or a string a lot
      // Bounded so one input stays under ~100 KB of JSON: the limits under test are counts and lengths, not RAM.
      if (Array.isArray(get())) set(Array.from({ length: rng.pick([300, 5000]) }, () => rng.pick([0, 'x', null, {}])));
      else if (typeof get() === 'string') set((get() as string).repeat(Math.min(rng.pick([100, 5000]), Math.floor(100_000 / Math.max(1, (get() as string).length)))));
      else set(randomString(rng, 64));
      break;
    case 8: if (typeof get() === 'string') set(randomString(rng)); else set(get()); break;
    default: set(undefined); // dropped by JSON.stringify for objects, null in arrays
  }
  return root;
}

/** One textual mutation: bit flips, truncation, splices, number and key injection. */
export function mutateText(rng: Rng, text: string): string {
  if (rng.chance(0.03)) return deepenText(rng, text);
  const buf = Buffer.from(text, 'utf8');
  switch (rng.int(8)) {
    case 0: { // flip a few bits
      const b = Buffer.from(buf);
      for (let i = rng.range(1, 4); i > 0 && b.length; i--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b.toString('utf8');
    }
    case 1: return text.slice(0, rng.int(text.length + 1));
    case 2: { // delete a span
      const at = rng.int(text.length + 1);
      return text.slice(0, at) + text.slice(at + rng.range(1, 16));
    }
    case 3: { // insert random bytes
      const at = rng.int(text.length + 1);
      return text.slice(0, at) + randomBytes(rng, 12).toString('latin1') + text.slice(at);
    }
    case 4: // replace a number with a huge or odd one
      return text.replace(/-?\d+(\.\d+)?([eE][+-]?\d+)?/, rng.pick(HUGE_NUMBER_TEXTS));
    case 5: { // inject a prototype key into some object
      const at = [...text.matchAll(/\{/g)].map((m) => m.index!);
      if (!at.length) return text;
      const i = rng.pick(at) + 1;
      const key = rng.pick(['__proto__', 'constructor', 'prototype']);
      const inject = key === 'constructor' ? '"constructor":{"prototype":{"polluted":"yes"}}' : `"${key}":{"polluted":"yes"}`;
      return text.slice(0, i) + inject + (text[i] === '}' ? '' : ',') + text.slice(i);
    }
    case 6: { // duplicate a span (duplicate keys, repeated elements)
      const a = rng.int(text.length + 1);
      const b = Math.min(text.length, a + rng.range(1, 40));
      return text.slice(0, b) + text.slice(a, b) + text.slice(b);
    }
    default: { // swap two characters
      if (text.length < 2) return text;
      const i = rng.int(text.length - 1);
      return text.slice(0, i) + text[i + 1] + text[i] + text.slice(i + 2);
    }
  }
}

// ---- prototype pollution -------------------------------------------------------

const PROTOS: [string, object][] = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
];

/** Snapshots the built-in prototypes; the returned check throws if any gained, lost or changed a property. */
export function protoGuard(): () => void {
  const before = PROTOS.map(([name, p]) => [name, p, new Map(Reflect.ownKeys(p).map((k) => [k, Object.getOwnPropertyDescriptor(p, k)?.value]))] as const);
  return () => {
    for (const [name, p, keys] of before) {
      const now = Reflect.ownKeys(p);
      const added = now.filter((k) => !keys.has(k));
      if (added.length) throw new Error(`prototype pollution: ${name} gained ${added.map(String).join(', ')}`);
      for (const [k, v] of keys) {
        const d = Object.getOwnPropertyDescriptor(p, k);
        if (!d) throw new Error(`prototype pollution: ${name}.${String(k)} was deleted`);
        if (typeof v !== 'function' && d.value !== v) throw new Error(`prototype pollution: ${name}.${String(k)} changed`);
      }
    }
    const probe = {} as Record<string, unknown>;
    if (probe.polluted !== undefined || probe.isAdmin !== undefined) throw new Error('prototype pollution: a fresh object has polluted/isAdmin');
  };
}

/** The error's message and its first stack frames, for failure messages that must say where it came from. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const frames = (err.stack ?? '').split('\n').filter((l) => l.trimStart().startsWith('at ')).slice(0, 4).map((l) => l.trim());
  return `${err.name}: ${err.message}${frames.length ? `\n    ${frames.join('\n    ')}` : ''}`;
}

/** A short, printable preview of an input for failure messages. */
export function preview(input: unknown, max = 300): string {
  let s: string;
  if (Buffer.isBuffer(input)) s = `<${input.length} bytes> ${input.toString('hex').slice(0, max)}`;
  else if (typeof input === 'string') s = JSON.stringify(input.length > max ? `${input.slice(0, max)}…(${input.length} chars)` : input);
  else {
    try {
      s = JSON.stringify(input) ?? String(input);
    } catch {
      s = String(input);
    }
  }
  return s.length > max + 40 ? `${s.slice(0, max)}…` : s;
}
