import { EventEmitter, once } from 'node:events';
import { createLogger, type Logger } from '../../../lib/logger.ts';

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
  const waitFor = async (re: RegExp, signal: AbortSignal) => {
    for (;;) {
      const hit = find(re);
      if (hit) return hit;
      await once(events, 'line', { signal });
    }
  };
  return { logger, lines, find, waitFor };
}
