import { ReconSyncError } from '../../protocol/index.ts';

/** Power actions of one server (a closed set, style.md §6). `recover` is the supervisor's own crash/hang restart. */
export type PowerAction = 'start' | 'stop' | 'restart' | 'recover';

/**
 * One power action per server at a time. A second one is refused with BUSY
 * instead of being queued: a queued "start" running minutes after a "stop"
 * (e.g. behind a restart countdown) would surprise whoever asked. The caller
 * sees which action runs and can retry or cancel it.
 */
export class PowerLock {
  #current: PowerAction | null = null;
  #idle: Array<() => void> = [];

  get current(): PowerAction | null {
    return this.#current;
  }

  /**
   * Like run, but waits for the action in flight instead of BUSY. Only for the
   * end of a job (resumeAfterJob): an operator stop issued just then must finish
   * first, so its word is read after it.
   */
  async runWhenFree<T>(action: PowerAction, fn: () => Promise<T>): Promise<T> {
    while (this.#current !== null) await new Promise<void>((resolve) => this.#idle.push(resolve));
    return this.run(action, fn);
  }

  async run<T>(action: PowerAction, fn: () => Promise<T>): Promise<T> {
    if (this.#current !== null) {
      throw new ReconSyncError('BUSY', `cannot ${action}: a ${this.#current} is already running for this server; wait for it${this.#current === 'restart' ? ' or cancel it' : ''}`);
    }
    this.#current = action;
    try {
      return await fn();
    } finally {
      this.#current = null;
      for (const wake of this.#idle.splice(0)) wake();
    }
  }
}
