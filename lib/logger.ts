import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { redactKnown, REDACTED } from './redact.ts';

export type { Logger };

/** One redact list for every secret we hold (style.md §11). */
export const redactPaths = [
  'token', '*.token', '*.*.token', 'password', '*.password', '*.*.password',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'rcon.password', '*.rcon.password', 'hub.token', 'api.token', 'discord.token', 'secret', '*.secret',
  'betaPassword', '*.betaPassword', 'cookie', '*.cookie', 'headers.cookie', 'req.headers.cookie',
  // A game's environment (start.env) may hold its passwords.
  'env', '*.env', 'start.env', '*.start.env',
];

export interface LoggerSetup {
  level?: string;
  name?: string;
  /** Write here instead of stdout (tests use an in-memory sink). */
  destination?: DestinationStream;
  pretty?: boolean;
  /**
   * Secret values from the config (tokens, RCON passwords): scrubbed from every
   * line as written, wherever they appear (a message, an error, a command line),
   * since the path list above only covers fields with known names.
   */
  secrets?: readonly string[];
}

/** The forms a secret takes in a JSON log line: as is, and JSON-escaped (quotes, backslashes). */
function scrubber(secrets: readonly string[]): ((line: string) => string) | undefined {
  const forms = [...new Set(secrets.filter((s) => s.length > 0).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))];
  return forms.length ? (line) => redactKnown(line, forms) : undefined;
}

export function createLogger(setup: LoggerSetup = {}): Logger {
  const options: LoggerOptions = {
    level: setup.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: REDACTED },
    base: setup.name ? { name: setup.name } : {},
  };
  const scrub = scrubber(setup.secrets ?? []);
  if (scrub) options.hooks = { streamWrite: scrub };
  if (setup.destination) return pino(options, setup.destination);
  const pretty = setup.pretty ?? (process.stdout.isTTY === true && !process.env.CI);
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  }
  return pino(options);
}

/** A logger that drops everything: defaults for library code and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
