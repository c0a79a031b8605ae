/**
 * Nesting limits for JSON from outside the process (agent frames, hub frames,
 * API bodies, game replies), checked BEFORE anything walks the value.
 *
 * Measured on Node 20.20 / V8 11.3 / zod 4.6.7 with `[[[…]]]` nesting:
 * JSON.parse is iterative and takes 1 000 000 levels; JSON.stringify and
 * structuredClone throw RangeError from about 5 000 levels, z.json() from
 * about 3 000, and any recursive walker (ours, a logger's serializer) fails
 * at a depth that shrinks with the stack already in use. So parsing is safe
 * and everything after it is not. Parsing is not cheap either: a 1 MiB
 * `[[[…` is 500 000 arrays and holds the event loop for hundreds of ms. The
 * depth is therefore counted on the text, in one loop without recursion, and
 * deeper text is refused before JSON.parse builds anything.
 */

/** Deepest array/object nesting accepted from outside; our own frames and bodies stay under 10. */
export const MAX_JSON_DEPTH = 64;

/**
 * The deepest nesting of JSON text, counting `[` and `{` outside strings, or
 * `max + 1` as soon as it passes `max` (so a 1 MiB `[[[[…` costs no more than
 * a short one). For valid JSON this is exactly the depth JSON.parse builds;
 * invalid JSON is rejected by JSON.parse anyway.
 */
export function jsonTextDepth(text: string, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(text, i);
      if (end < 0) return deepest;
      i = end - 1;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

/** `reason` tells "too deep" (refuse the input) from "not JSON" (some callers treat that as text). */
export type BoundedJson = { ok: true; value: unknown } | { ok: false; reason: 'depth' | 'syntax'; error: string };

/**
 * JSON.parse with the depth checked first. `what` names the input in the
 * error ("frame", "request body"); the error never contains the input itself.
 */
export function parseJsonBounded(text: string, what: string, max = MAX_JSON_DEPTH): BoundedJson {
  if (jsonTextDepth(text, max) > max) return { ok: false, reason: 'depth', error: `${what} nested deeper than ${max} levels` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'syntax', error: `${what} is not valid JSON` };
  }
}

/**
 * The nesting depth of a value that did not come from JSON text (a YAML
 * document, a library's result), or `max + 1` once it passes `max`. Iterative,
 * so it cannot overflow the stack itself; a cycle counts as too deep. Its
 * cost is linear in the value's size, which its maker already paid.
 */
export function valueDepth(value: unknown, max = MAX_JSON_DEPTH): number {
  if (value === null || typeof value !== 'object') return 0;
  const stack: Array<{ v: object; d: number }> = [{ v: value, d: 1 }];
  let deepest = 0;
  while (stack.length) {
    const { v, d } = stack.pop()!;
    if (d > deepest) {
      deepest = d;
      if (deepest > max) return deepest;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push({ v: child as object, d: d + 1 });
    }
  }
  return deepest;
}

/**
 * Index just past the string that opens at `i` (a quote), or -1 when it never
 * closes: the first quote after an even run of backslashes (indexOf is about
 * twice as fast as a loop over every character).
 */
function stringEnd(text: string, i: number): number {
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i < 0) return -1;
    let b = i - 1;
    while (text.charCodeAt(b) === 0x5c) b--;
    if ((i - 1 - b) % 2 === 0) return i + 1;
  }
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * The string-valued fields of a top-level JSON object, read without building
 * (or even fully checking) its nested values: they are skipped by counting
 * brackets. For a frame refused before JSON.parse (too deep) this still finds
 * its `type` and `id`, so a request gets its error answer; JSON.parse of a
 * 1 MiB `[[[…` (500 000 arrays) holds the event loop for hundreds of ms, so
 * it is never used for that. Strings longer than `maxLen` are left out; undefined when the
 * top level is not an object of this shape.
 */
export function topLevelStrings(text: string, maxLen = 256): Map<string, string> | undefined {
  const out = new Map<string, string>();
  const n = text.length;
  let i = 0;
  const skipSpace = () => {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
  };
  skipSpace();
  if (text.charCodeAt(i) !== 0x7b) return undefined;
  i++;
  skipSpace();
  if (text.charCodeAt(i) === 0x7d) return out;
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) return undefined;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return undefined;
    const keyText = text.slice(i, keyEnd);
    i = keyEnd;
    skipSpace();
    if (text.charCodeAt(i) !== 0x3a) return undefined;
    i++;
    skipSpace();
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(text, i);
      if (end < 0) return undefined;
      if (end - i <= maxLen + 2 && keyText.length <= maxLen + 2) {
        try {
          out.set(JSON.parse(keyText) as string, JSON.parse(text.slice(i, end)) as string);
        } catch {
          return undefined;
        }
      }
      i = end;
    } else if (c === 0x5b || c === 0x7b) {
      // A nested value: skip to its matching bracket, strings included.
      let depth = 0;
      for (; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x22) {
          const end = stringEnd(text, i);
          if (end < 0) return undefined;
          i = end - 1;
        } else if (d === 0x5b || d === 0x7b) depth++;
        else if ((d === 0x5d || d === 0x7d) && --depth === 0) break;
      }
      if (i >= n) return undefined;
      i++;
    } else {
      // A number, true, false or null: up to the next separator.
      while (i < n && !isSpace(text.charCodeAt(i)) && text.charCodeAt(i) !== 0x2c && text.charCodeAt(i) !== 0x7d) i++;
    }
    skipSpace();
    const sep = text.charCodeAt(i);
    i++;
    if (sep === 0x7d) return out;
    if (sep !== 0x2c) return undefined;
    skipSpace();
  }
}
