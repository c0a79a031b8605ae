import { EventEmitter } from 'node:events';
import type { Logger } from '../../lib/logger.ts';
import { CloseCode, systemClock, type Clock, type ClockTimer } from '../../protocol/index.ts';
import { isStoreError, type Store } from '../store/index.ts';
import type { Session } from './session.ts';

export interface RegistryOptions {
  store: Store;
  logger: Logger;
  heartbeatMs: number;
  deadAfterMs: number;
  revocationPollMs: number;
  /** Sweeps, revocation polls, liveness stamps and close grace run on it (default: the system clock). */
  clock?: Clock;
}

export interface RegistryEvents {
  online: [session: Session];
  offline: [session: Session];
}

/**
 * All live sessions, one per agent once it said hello. Owns the two periodic
 * jobs: liveness (one sweep for all sockets, not a timer each) and revocation
 * polling (the CLI revokes from another process, so the store is the channel).
 */
export class SessionRegistry extends EventEmitter<RegistryEvents> {
  readonly #opts: RegistryOptions;
  readonly #all = new Set<Session>();
  readonly #byAgent = new Map<string, Session>();
  /** The periodic jobs' armed timers, by job; empty when stopped. */
  readonly #timers = new Map<string, ClockTimer>();
  #revokeCursor = 0;
  /** The clock sessions stamp liveness with: the sweep compares against it. */
  readonly clock: Clock;

  constructor(opts: RegistryOptions) {
    super();
    this.#opts = opts;
    this.clock = opts.clock ?? systemClock;
  }

  start(): void {
    this.#revokeCursor = this.#opts.store.tokens.maxRevokeSeq();
    const sweepEvery = Math.max(5, Math.floor(Math.min(this.#opts.heartbeatMs, this.#opts.deadAfterMs) / 3));
    this.#every('sweep', sweepEvery, () => this.#sweep());
    this.#every('revocations', this.#opts.revocationPollMs, () => this.#pollRevocations());
  }

  stop(): void {
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
  }

  /** Runs fn every ms until stop(); the timers never keep the process alive (the server socket does). */
  #every(job: string, ms: number, fn: () => void): void {
    const arm = () => {
      const timer = this.clock.setTimer(ms, () => {
        if (this.#timers.get(job) !== timer) return;
        arm();
        fn();
      });
      timer.unref();
      this.#timers.set(job, timer);
    };
    arm();
  }

  /** A socket passed the upgrade checks; it is tracked but not yet an agent's session. */
  add(session: Session): void {
    this.#all.add(session);
  }

  /** The session said hello: it becomes the agent's session and replaces an older one (4000). */
  register(session: Session): void {
    const previous = this.#byAgent.get(session.agentId);
    this.#byAgent.set(session.agentId, session);
    if (previous && previous !== session) {
      previous.logger.info('replaced by a newer connection of the same agent');
      previous.close(CloseCode.Replaced, 'replaced by a newer connection');
    }
    if (!previous) this.emit('online', session);
  }

  /** Called when a session closed, for whatever reason. */
  remove(session: Session): void {
    this.#all.delete(session);
    if (this.#byAgent.get(session.agentId) === session) {
      this.#byAgent.delete(session.agentId);
      this.emit('offline', session);
    }
  }

  get(agentId: string): Session | undefined {
    return this.#byAgent.get(agentId);
  }

  agents(): IterableIterator<Session> {
    return this.#byAgent.values();
  }

  get connectedCount(): number {
    return this.#byAgent.size;
  }

  awaitingHello(): number {
    return this.#all.size - this.#byAgent.size;
  }

  /** Closes every socket, then waits (bounded) for them to go. */
  async closeAll(code: number, reason: string, graceMs = 1000): Promise<void> {
    const sockets = [...this.#all].map((s) => s.ws);
    for (const s of [...this.#all]) s.close(code, reason);
    const deadline = this.clock.now() + graceMs;
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            const t = this.clock.setTimer(Math.max(0, deadline - this.clock.now()), () => {
              ws.terminate();
              resolve();
            });
            ws.once('close', () => {
              t.cancel();
              resolve();
            });
          }),
      ),
    );
  }

  #sweep(): void {
    const now = this.clock.now();
    for (const s of this.#all) {
      if (now - s.lastHeard > this.#opts.deadAfterMs) {
        s.logger.warn({ silentMs: Math.round(now - s.lastHeard) }, 'agent silent too long; dropping the link');
        s.terminate('peer silent');
      } else if (now - s.lastPinged >= this.#opts.heartbeatMs) {
        s.ping(now);
      }
    }
  }

  #pollRevocations(): void {
    let revoked;
    try {
      revoked = this.#opts.store.tokens.revokedSince(this.#revokeCursor);
    } catch (err) {
      // A busy or closing store: try again next tick. Counted as a store fault, so a corrupt store shows on /healthz.
      if (isStoreError(err)) this.#opts.store.health.failed('revocations', err);
      this.#opts.logger.warn({ err }, 'revocation poll failed');
      return;
    }
    this.#opts.store.health.succeeded('revocations');
    if (revoked.length === 0) return;
    const tokenIds = new Set<number>();
    for (const r of revoked) {
      tokenIds.add(r.tokenId);
      this.#revokeCursor = Math.max(this.#revokeCursor, r.revokeSeq);
    }
    for (const s of [...this.#all]) {
      if (tokenIds.has(s.tokenId)) {
        s.logger.warn('agent token revoked; closing the session');
        s.close(CloseCode.Revoked, 'token revoked');
      }
    }
  }
}
