import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** One redact list for every secret we hold (style.md §11). */
export const redactPaths = [
  'token', '*.token', '*.*.token', 'password', '*.password', '*.*.password',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'rcon.password', 'hub.token', 'api.token', 'discord.token', 'secret', '*.secret',
];

export interface LoggerSetup {
  level?: string;
  name?: string;
  /** Write here instead of stdout (tests use an in-memory sink). */
  destination?: DestinationStream;
  pretty?: boolean;
}

export function createLogger(setup: LoggerSetup = {}): Logger {
  const options: LoggerOptions = {
    level: setup.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: setup.name ? { name: setup.name } : {},
  };
  if (setup.destination) return pino(options, setup.destination);
  const pretty = setup.pretty ?? (process.stdout.isTTY === true && !process.env.CI);
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } } });
  }
  return pino(options);
}

/** A logger that drops everything: defaults for library code and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
