import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Lexer, Parser, parseDocument } from 'yaml';
import type { z } from 'zod';
import { safeParse } from '../protocol/safe-parse.ts';
import { describeIssues, keyPath } from './config-issues.ts';
import { errorCodeOrMessage, errorMessage } from './error-message.ts';
import { issueLines } from './zod-issue.ts';

/** A config problem that names the file, the key path and what was expected. */
export class ConfigError extends Error {
  readonly file: string;
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}

/** Deepest nesting of a config or game profile (a real one stays under 8). */
export const MAX_CONFIG_DEPTH = 32;

/** Largest config or game profile text parsed; real ones are a few KiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The deepest collection nesting of YAML text, or `max + 1` as soon as it
 * passes `max`. yaml 2.9's composer (parseDocument) recurses per level and,
 * measured on Node 20, hits the stack limit at ~800 flow or ~900 block levels
 * (earlier when called deep in a stack), reported only as "Maximum call stack
 * size exceeded"; its lexer and CST parser keep an explicit stack, so they
 * measure the depth without recursing. The parser's stack holds the document
 * and the token in progress besides the open collections.
 */
export function yamlDepth(text: string, max = MAX_CONFIG_DEPTH): { depth: number; offset: number } {
  const parser = new Parser();
  let deepest = 0;
  for (const lexeme of new Lexer().lex(text)) {
    for (const _token of parser.next(lexeme)); // documents are composed later, by parseDocument
    const depth = parser.stack.length - 1;
    if (depth > deepest) {
      deepest = depth;
      if (deepest > max) return { depth: deepest, offset: parser.offset };
    }
  }
  return { depth: deepest, offset: text.length };
}

/** Size and nesting problems of YAML text from outside, found before anything parses it recursively. */
export function yamlBoundsProblem(text: string): string | undefined {
  if (text.length > MAX_CONFIG_BYTES) return `file is larger than ${MAX_CONFIG_BYTES} bytes; a config or game profile is a few KiB`;
  const { depth, offset } = yamlDepth(text);
  if (depth > MAX_CONFIG_DEPTH) return `YAML nested deeper than ${MAX_CONFIG_DEPTH} levels (line ${text.slice(0, offset).split('\n').length})`;
  return undefined;
}

/**
 * Environment references are UPPER_CASE (`${RCON_PASSWORD}`); lowerCamel ones
 * (`${installDir}`, `${identity}`) are game-profile path variables and are left
 * for the profile resolver.
 */
const ENV_REF = /\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g;

/** An unset `${VAR}`: where it was and which variable. */
export interface MissingEnv {
  at: string[];
  name: string;
}

/** Replaces `${VAR}` and `${VAR:-default}` in every string value, recording which are unset. */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, at: string[] = [], missing: MissingEnv[] = []): unknown {
  // A self-referencing YAML alias makes a circular object: stop instead of recursing forever.
  if (at.length > MAX_CONFIG_DEPTH) throw new RangeError(`${at.slice(0, 8).join('.')}…: nested deeper than ${MAX_CONFIG_DEPTH} levels (a circular YAML alias?)`);
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      missing.push({ at, name });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...at, String(i)], missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...at, k], missing)]));
  }
  return value;
}

/**
 * One line per problem. Given the schema and the document, list items are
 * named by their id and unknown keys come with the nearest known one
 * (config-issues.ts); without them, the plain dotted path.
 */
export function formatZodIssues(error: z.ZodError, schema?: z.ZodType, raw?: unknown): string[] {
  if (schema) return describeIssues(error, schema, raw);
  return issueLines(error);
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /**
   * Only these top-level keys must have their variables set (a command that
   * reads just `dataDir` must not need the hub's secrets). Default: all keys.
   */
  onlyKeys?: string[];
}

/** A config file's absolute path and text; a file that cannot be read is a ConfigError naming it and why (ENOENT, EACCES). */
export function readConfigText(file: string): { abs: string; text: string } {
  const abs = path.resolve(file);
  try {
    return { abs, text: readFileSync(abs, 'utf8') };
  } catch (err) {
    throw new ConfigError(abs, [`cannot read file: ${errorCodeOrMessage(err)}`]);
  }
}

/** Reads YAML, substitutes env vars, validates with the schema, returns a frozen result. */
export function loadYamlConfig<S extends z.ZodType>(file: string, schema: S, opts: LoadOptions = {}): z.output<S> & { configDir: string; configFile: string } {
  const { abs, text } = readConfigText(file);
  return parseYamlConfig(text, abs, schema, opts);
}

export function parseYamlConfig<S extends z.ZodType>(text: string, abs: string, schema: S, opts: LoadOptions = {}): z.output<S> & { configDir: string; configFile: string } {
  const tooBig = yamlBoundsProblem(text);
  if (tooBig) throw new ConfigError(abs, [tooBig]);
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(abs, doc.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0]}`));
  }
  const missing: MissingEnv[] = [];
  let raw: unknown;
  try {
    // toJS throws on alias bombs (yaml's maxAliasCount) and unresolved aliases; substituteEnv on circular ones.
    raw = substituteEnv(doc.toJS({ maxAliasCount: 100 }) ?? {}, opts.env ?? process.env, [], missing);
  } catch (err) {
    throw new ConfigError(abs, [`YAML: ${errorMessage(err).split('\n')[0]}`]);
  }
  const unset = missing
    .filter((m) => !opts.onlyKeys || (m.at[0] !== undefined && opts.onlyKeys.includes(m.at[0])))
    .map((m) => `${keyPath(m.at.map((k) => (/^\d+$/.test(k) ? Number(k) : k)), raw)}: environment variable ${m.name} is not set`);
  const parsed = safeParse(schema, raw);
  // An unset variable is always an error: an optional secret must not silently become "".
  if (!parsed.success || unset.length) throw new ConfigError(abs, [...unset, ...(parsed.success ? [] : formatZodIssues(parsed.error, schema, raw))]);
  const configDir = path.dirname(abs);
  return deepFreeze({ ...(parsed.data as object), configDir, configFile: abs }) as z.output<S> & { configDir: string; configFile: string };
}

/** Resolves a config path against the config file's folder (absolute paths pass through). */
export function resolveFrom(configDir: string, p: string, pathImpl: path.PlatformPath = path): string {
  return pathImpl.isAbsolute(p) ? pathImpl.normalize(p) : pathImpl.resolve(configDir, p);
}
