import type { EventEmitter } from 'node:events';
import type { Logger } from './logger.ts';

/**
 * Emits and contains a listener's throw: node's `emit` runs listeners
 * synchronously and rethrows into the emitter, so a bug in one listener
 * (Discord, metrics, a test) would undo the emitter's own work half-way
 * (a stored record not acked, a link loop ended). Logged instead.
 */
export function safeEmit<M extends Record<keyof M, unknown[]>, E extends keyof M & string>(
  emitter: EventEmitter<M>, log: Pick<Logger, 'error'>, event: E, ...args: M[E]
): void {
  try {
    (emitter.emit as unknown as (e: E, ...a: M[E]) => boolean).call(emitter, event, ...args);
  } catch (err) {
    log.error({ err, event }, 'an event listener threw; ignored, the emitter carries on');
  }
}
