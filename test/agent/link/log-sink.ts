import { EventEmitter } from 'node:events';
import { createLogger, type Logger } from '../../../lib/logger.ts';
import { waitFor } from '../../support/wait.ts';

export interface LogLine { level: number; msg: string; [key: string]: unknown }

export interface MemoryLog {
  logger: Logger;
  lines: LogLine[];
  find: (re: RegExp) => LogLine | undefined;
  /** Resolves with the first line (already logged or future) whose msg matches. */
  waitFor: (re: RegExp, signal: AbortSignal) => Promise<LogLine>;
}

/** A pino logger writing into an array, so tests can assert on (and wait for) what was logged. */
export function memoryLogger(): MemoryLog {
  const lines: LogLine[] = [];
  const events = new EventEmitter();
  const logger = createLogger({
    level: 'debug',
    destination: {
      write: (s: string) => {
        lines.push(JSON.parse(s) as LogLine);
        events.emit('line');
      },
    },
  });
  const find = (re: RegExp) => lines.find((l) => re.test(l.msg));
  const waitForLine = (re: RegExp, signal: AbortSignal) =>
    waitFor(() => find(re), { signal, timeoutMs: 60_000, what: `a log line matching ${re}`, wakeOn: { emitter: events, events: ['line'] } });
  return { logger, lines, find, waitFor: waitForLine };
}
