import path from 'node:path';
import { z } from 'zod';
import { safeParse } from '../protocol/safe-parse.ts';
import { ConfigError, deepFreeze, parseYamlConfig, readConfigText, type LoadOptions } from './config-file.ts';
import { describeIssues } from './config-issues.ts';

/**
 * A config file read for checking: the document (variables substituted), the
 * schema's result when it passed, and every problem found so far — unset
 * variables and schema problems together, so an operator fixes them in one
 * round. Callers add their own checks (game ids, cron, paths) to `problems`
 * and throw once (`throwIfProblems`).
 */
export interface CheckedFile<T> {
  abs: string;
  configDir: string;
  /** The YAML document after `${VAR}` substitution; undefined when it could not be read or parsed. */
  raw: unknown;
  /** The schema's output when the document passed it. */
  data: T | undefined;
  problems: string[];
}

const LoaderKeys = ['configDir', 'configFile'];

/** Reads and substitutes via parseYamlConfig (size/depth bounds, YAML errors, alias limits) without stopping at the first kind of problem. */
export function checkYamlFile<S extends z.ZodType>(file: string, schema: S, opts: LoadOptions = {}): CheckedFile<z.output<S>> {
  const abs = path.resolve(file);
  const configDir = path.dirname(abs);
  let text: string;
  try {
    text = readConfigText(abs).text;
  } catch (err) {
    if (err instanceof ConfigError) return { abs, configDir, raw: undefined, data: undefined, problems: err.problems };
    throw err;
  }
  let raw: unknown;
  try {
    // No keys required here: unset variables are collected by the second pass below, next to the schema's problems.
    const doc = parseYamlConfig(text, abs, z.unknown(), { ...opts, onlyKeys: [] }) as Record<string, unknown>;
    raw = Object.fromEntries(Object.entries(doc).filter(([k]) => !LoaderKeys.includes(k)));
  } catch (err) {
    if (err instanceof ConfigError) return { abs, configDir, raw: undefined, data: undefined, problems: err.problems };
    throw err;
  }
  const problems: string[] = [];
  try {
    parseYamlConfig(text, abs, z.unknown(), opts);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  const parsed = safeParse(schema, raw);
  if (!parsed.success) problems.push(...describeIssues(parsed.error, schema, raw));
  return { abs, configDir, raw, data: parsed.success ? parsed.data : undefined, problems: [...new Set(problems)] };
}

export function throwIfProblems(file: string, problems: readonly string[]): void {
  if (problems.length) throw new ConfigError(file, [...new Set(problems)]);
}

/** The schema's output with the file's location, frozen (style.md §2); throws ConfigError listing every problem. */
export function loadCheckedYaml<S extends z.ZodType>(file: string, schema: S, opts: LoadOptions = {}): z.output<S> & { configDir: string; configFile: string } {
  const checked = checkYamlFile(file, schema, opts);
  throwIfProblems(checked.abs, checked.problems);
  return deepFreeze({ ...(checked.data as object), configDir: checked.configDir, configFile: checked.abs }) as z.output<S> & { configDir: string; configFile: string };
}
