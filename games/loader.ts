import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { ConfigError, MAX_CONFIG_DEPTH, deepFreeze, formatZodIssues, yamlBoundsProblem } from '../lib/config-file.ts';
import { valueDepth } from '../protocol/json-bounds.ts';
import { GameProfileSchema, type GameProfile } from './profile.ts';
import { safeParse } from '../protocol/safe-parse.ts';
import { errorCodeOrMessage, errorMessage } from '../lib/error-message.ts';

/**
 * Game profiles: games/<id>.yaml next to this module, plus an operator's extra
 * folder (agent.yaml `gamesDir`) whose files add games or replace built-in ones.
 *
 * Profiles are NOT read with loadYamlConfig: their `${installDir}`-style
 * variables are resolved per server by agent/resolve-server.ts, not from the environment.
 */

const PROFILE_EXT = '.yaml';

export interface LoadGameProfilesOptions {
  /** Folder with the built-in profiles; defaults to defaultGamesDir(). */
  dir?: string;
  /** Folder with extra or replacement profiles (<id>.yaml). */
  extraDir?: string;
}

/**
 * The folder holding the built-in profiles. From source that is this module's
 * folder; in the agent bundle import.meta.url is the chunk holding this code
 * (<bundle>/lib/*.js, tools/bundle.ts), and the YAMLs are shipped in <bundle>/games.
 */
export function defaultGamesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of [here, path.join(here, 'games'), path.join(here, '..', 'games')]) {
    if (existsSync(path.join(candidate, `valheim${PROFILE_EXT}`))) return candidate;
  }
  return here;
}

/** Parses and validates one profile's YAML text; `file` names it in errors and fixes the expected id. */
export function parseGameProfile(text: string, file: string): GameProfile {
  const tooBig = yamlBoundsProblem(text);
  if (tooBig) throw new ConfigError(file, [tooBig]);
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new ConfigError(file, doc.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0]}`));
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(file, [`YAML: ${errorMessage(err).split('\n')[0]}`]);
  }
  // Aliases can nest deeper than the text does (and a self-referencing one forever): bound the value too.
  if (valueDepth(raw, MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH) throw new ConfigError(file, [`YAML: nested deeper than ${MAX_CONFIG_DEPTH} levels (through aliases)`]);
  const parsed = safeParse(GameProfileSchema, raw);
  if (!parsed.success) throw new ConfigError(file, formatZodIssues(parsed.error, GameProfileSchema, raw));
  const profile = parsed.data;
  const expectedId = path.basename(file, PROFILE_EXT);
  // A stale query.gamedigType is config check's (games/gamedig-check.ts): checking it here would load gamedig into every agent.
  if (profile.id !== expectedId) throw new ConfigError(file, [`id: "${profile.id}" must match the file name (expected "${expectedId}")`]);
  return deepFreeze(profile);
}

export function loadGameProfile(file: string): GameProfile {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(abs, [`cannot read file: ${errorCodeOrMessage(err)}`]);
  }
  return parseGameProfile(text, abs);
}

function profileFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new ConfigError(path.resolve(dir), [`cannot read game profile folder: ${errorCodeOrMessage(err)}`]);
  }
  return names.filter((n) => n.endsWith(PROFILE_EXT)).sort().map((n) => path.resolve(dir, n));
}

/** Loads every profile; a file in extraDir replaces the built-in one with the same id. Throws ConfigError on the first bad file. */
export function loadGameProfiles(opts: LoadGameProfilesOptions = {}): Map<string, GameProfile> {
  const profiles = new Map<string, GameProfile>();
  for (const file of profileFiles(opts.dir ?? defaultGamesDir())) {
    const p = loadGameProfile(file);
    profiles.set(p.id, p);
  }
  if (opts.extraDir) {
    for (const file of profileFiles(opts.extraDir)) {
      const p = loadGameProfile(file);
      profiles.set(p.id, p);
    }
  }
  return profiles;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars in `over` replace what `base` had. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/**
 * Applies a server's `profile:` overrides from agent.yaml and validates the
 * result. Problems name the agent config key, e.g. `servers.0.profile.admin.saveCommand`.
 */
export function mergeProfile(profile: GameProfile, overrides: Record<string, unknown>, keyPrefix = 'profile'): GameProfile {
  const where = `game profile "${profile.id}" with server overrides`;
  if ('id' in overrides && overrides.id !== profile.id) {
    throw new ConfigError(where, [`${keyPrefix}.id: cannot change the profile id (use the server's game key to pick another game)`]);
  }
  const merged = deepMerge(profile, overrides);
  const parsed = safeParse(GameProfileSchema, merged);
  if (!parsed.success) {
    throw new ConfigError(where, formatZodIssues(parsed.error, GameProfileSchema, merged).map((p) => `${keyPrefix}.${p}`));
  }
  return deepFreeze(parsed.data);
}

export interface GameListing {
  id: string;
  name: string;
  /** e.g. "a2s on game port +1 (default 2457)". */
  query: string;
  /** e.g. "source-rcon/ark (default 27020)" or "none". */
  admin: string;
}

function describePort(defaultPort: number | undefined, offset: number | null): string {
  if (offset === null) return defaultPort === undefined ? 'no fixed port' : `port ${defaultPort}`;
  const follows = offset === 0 ? 'the game port' : `game port ${offset > 0 ? '+' : ''}${offset}`;
  return defaultPort === undefined ? follows : `${follows} (default ${defaultPort})`;
}

/** One line of facts per game, sorted by id, for `reconsync games`. */
export function listGames(opts: LoadGameProfilesOptions = {}): GameListing[] {
  return [...loadGameProfiles(opts).values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((p) => ({
      id: p.id,
      name: p.name,
      query: `${p.query.kind}${p.query.gamedigType ? ` (${p.query.gamedigType})` : ''} on ${describePort(p.query.defaultPort, p.query.portOffset)}`,
      admin: p.admin.kind === 'none'
        ? 'none'
        : `${p.admin.kind}${p.admin.dialect ? `/${p.admin.dialect}` : ''} on ${describePort(p.admin.defaultPort, p.admin.portOffset)}`,
    }));
}
