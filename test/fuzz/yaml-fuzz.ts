/**
 * YAML-aware mutations for the config and game-profile fuzzers, and the
 * contract both loaders promise: a deep-frozen result, or a ConfigError that
 * names the file. Anything else thrown is a defect.
 */
import { parseDocument, stringify } from 'yaml';
import { ConfigError } from '../../lib/config-file.ts';
import { mutateText, mutateValue, randomBytes, type Rng } from './fuzz-kit.ts';

const HOSTILE_SCALARS = [
  '~', 'null', '.inf', '-.inf', '.nan', '0x1F', '0o17', '1e999', '-0', '123456789012345678901234567890', 'true', 'no', 'off',
  '""', "''", '"\\u0000"', '"\\ud800"', '!!str 5', '!!int "x"', '!!float abc', '!!binary aGVsbG8=', '!!set {a, b}', '!!omap [a: 1]', '!!timestamp 2001-12-14',
  '!!js/function "function(){}"', '!custom x', '${UNSET_VAR}', '${FUZZ_TOKEN:-fallback}', '${A:-${B}}', '${}', '$${X}', '"${FUZZ_TOKEN}"',
  '[', ']', '{', '{a: 1', '[1, [2, [3]]]', '{}', '[]', '|', '>-', '|+\n  x', '"unterminated', '@reserved', '`tick', '%percent', '? complex', '- - -',
  "'" + 'x'.repeat(5000) + "'", '../../../etc/passwd', 'C:\\Windows\\System32', '\t', '#comment',
];

const HOSTILE_LINES = [
  '__proto__: { polluted: yes }', 'constructor: { prototype: { polluted: yes } }', '"__proto__": { isAdmin: true }', 'prototype: 1',
  '<<: { id: merged }', '? [a, b]\n: 1', '---', '...', '%YAML 1.1', '%TAG ! tag:example.com,2000:', '\ufeffid: bom', 'id: x\nid: y',
  '  - orphan', '\t- tabbed', 'key with spaces: 1', '"quoted key": 2', 'a: b: c', ': novalue', 'x: !!map [1]',
];

/** Anchors and aliases: billion laughs, cycles, undefined aliases. Kept apart: see KNOWN_ALIAS_DEFECT in the tests. */
export const ALIAS_TEXTS = [
  (() => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    return lines.join('\n');
  })(),
  'id: &x [*x]',
  'hub: &h { url: ws://x/agent, token: *h }',
  'id: *undefined_anchor',
];

/** Nesting depths for deep YAML: just past the limit, past yaml's own recursion (~800), and far past it. */
export const DEEP_YAML_DEPTHS = [40, 1_000, 5_000, 100_000] as const;

export const DEEP_YAML_STYLES = ['flow-seq', 'flow-map', 'block-map', 'block-seq', 'compact-seq', 'complex-key'] as const;
const BLOCK_DEPTH_CAP = 1_200;

/** YAML text nesting `depth` levels in one of the ways YAML can nest. */
export function deepYaml(depth: number, style: (typeof DEEP_YAML_STYLES)[number]): string {
  switch (style) {
    case 'flow-seq': return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    case 'flow-map': return `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`;
    // Block styles grow quadratically with depth (indentation): capped under MAX_CONFIG_BYTES but past yaml's own limit.
    case 'block-map': return `\n${Array.from({ length: Math.min(depth, BLOCK_DEPTH_CAP) }, (_, i) => `${' '.repeat(i + 2)}k:`).join('\n')} 1`;
    case 'block-seq': return `\n${Array.from({ length: Math.min(depth, BLOCK_DEPTH_CAP) }, (_, i) => `${' '.repeat(i + 2)}-`).join('\n')} 1`;
    case 'compact-seq': return `\n  ${'- '.repeat(depth)}1`;
    default: return `{ ? ${'['.repeat(depth)}1${']'.repeat(depth)} : 1 }`;
  }
}

/** The seed with one value (any line with `key:`), or the whole document, replaced by deep nesting. */
export function withDeepValue(rng: Rng, seed: string): string {
  const deep = deepYaml(rng.pick(DEEP_YAML_DEPTHS), rng.pick(DEEP_YAML_STYLES));
  if (rng.chance(0.1)) return deep.trimStart();
  const lines = seed.split('\n');
  const candidates = lines.map((l, i) => (/^\s*(- )?[A-Za-z]+:/.test(l) ? i : -1)).filter((i) => i >= 0);
  const i = rng.pick(candidates);
  const m = /^(\s*(?:- )?[A-Za-z]+:)/.exec(lines[i]!)!;
  // Block styles must be indented past their key to nest under it.
  const indent = ' '.repeat(m[1]!.length - m[1]!.trimStart().length);
  lines[i] = `${m[1]} ${deep.replace(/\n/g, `\n${indent}`)}`;
  return lines.join('\n');
}

function mutateLines(rng: Rng, text: string): string {
  const lines = text.split('\n');
  const i = rng.int(lines.length);
  const line = lines[i] ?? '';
  switch (rng.int(7)) {
    case 0: { // replace a value
      const m = /^(\s*-?\s*[^:#]+:\s*)(.*)$/.exec(line);
      lines[i] = m ? `${m[1]}${rng.pick(HOSTILE_SCALARS)}` : `${line} ${rng.pick(HOSTILE_SCALARS)}`;
      break;
    }
    case 1: lines.splice(i, 0, `${' '.repeat(rng.pick([0, 0, 2, 4, 6]))}${rng.pick(HOSTILE_LINES)}`); break;
    case 2: lines[i] = rng.chance(0.5) ? ` ${line}` : line.replace(/^ {1,2}/, rng.chance(0.3) ? '\t' : ''); break; // indentation
    case 3: lines.splice(i, 1); break;
    case 4: lines.splice(i, 0, line); break; // duplicate key
    case 5: { // swap two lines
      const j = rng.int(lines.length);
      [lines[i], lines[j]] = [lines[j] ?? '', line];
      break;
    }
    default: lines[i] = line.replace(/#.*$/, '') + rng.pick([' # ${X}', ' &anchorless', ' !tag', '  ', ' ,', ' :']);
  }
  return lines.join('\n');
}

/** Longest input: configs are small files; past this YAML parsing time, not the parser's behaviour, is what grows. */
const MAX_YAML_CHARS = 16 * 1024;

/** One mutated YAML document from a seed text; never contains anchors/aliases on purpose (ALIAS_TEXTS covers those). */
export function mutateYaml(rng: Rng, seed: string): string {
  // Deep nesting is exempt from the size cap: it must be refused by its depth before any parsing time is spent.
  if (rng.chance(0.03)) return withDeepValue(rng, seed);
  const text = mutateYamlUnbounded(rng, seed);
  return text.length > MAX_YAML_CHARS ? text.slice(0, MAX_YAML_CHARS) : text;
}

function mutateYamlUnbounded(rng: Rng, seed: string): string {
  const r = rng.next();
  if (r < 0.3) {
    let s = seed;
    for (let n = rng.range(1, 3); n > 0; n--) s = mutateLines(rng, s);
    return s;
  }
  if (r < 0.55) {
    let s = seed;
    for (let n = rng.range(1, 3); n > 0; n--) s = mutateText(rng, s);
    return s;
  }
  if (r < 0.95) { // structural: through the YAML library and back
    let v: unknown = parseDocument(seed).toJS();
    for (let n = rng.range(1, 3); n > 0; n--) v = mutateValue(rng, v);
    try {
      return stringify(v, { aliasDuplicateObjects: false }) ?? seed; // undefined for an undefined document
    } catch {
      return seed;
    }
  }
  if (r < 0.98) return randomBytes(rng, 300).toString('latin1');
  return rng.pick(['', '---', '~', '[]', '"just a string"', '42', '- a\n- b', '\u0000', '{']);
}

export type Outcome = { kind: 'ok'; value: unknown } | { kind: 'config-error'; error: ConfigError } | { kind: 'other'; error: unknown };

export function attempt(fn: () => unknown): Outcome {
  try {
    return { kind: 'ok', value: fn() };
  } catch (error) {
    return error instanceof ConfigError ? { kind: 'config-error', error } : { kind: 'other', error };
  }
}

/** Throws unless every object and array in the value is frozen. */
export function assertDeepFrozen(value: unknown, path = '(root)', seen = new Set<unknown>()): void {
  if (!value || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (!Object.isFrozen(value)) throw new Error(`not frozen at ${path}`);
  for (const [k, v] of Object.entries(value)) assertDeepFrozen(v, `${path}.${k}`, seen);
}

/** Throws unless the ConfigError names the file, in its field and its message, with at least one problem. */
export function assertNamesFile(err: ConfigError, file: string): void {
  if (err.file !== file) throw new Error(`ConfigError.file is ${JSON.stringify(err.file)}, expected ${JSON.stringify(file)}`);
  if (!err.message.includes(file)) throw new Error(`ConfigError message does not name ${file}: ${err.message.slice(0, 200)}`);
  if (!Array.isArray(err.problems) || err.problems.length === 0 || err.problems.some((p) => typeof p !== 'string' || p === '')) {
    throw new Error(`ConfigError without problems: ${err.message.slice(0, 200)}`);
  }
}

/** Silences process warnings (yaml warns about collection keys) for the duration of a test; returns how many were swallowed. */
export function muteWarnings(): { count: () => number; restore: () => Promise<void> } {
  const saved = process.listeners('warning');
  process.removeAllListeners('warning');
  let n = 0;
  const counter = () => n++;
  process.on('warning', counter);
  return {
    count: () => n,
    // process.emitWarning delivers on a later tick: let the last ones arrive before unmuting.
    restore: async () => {
      await new Promise((r) => setImmediate(r));
      process.off('warning', counter);
      for (const l of saved) process.on('warning', l);
    },
  };
}
