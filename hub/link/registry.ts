import { EventEmitter } from 'node:events';
import type { Logger } from '../../lib/logger.ts';
import { CloseCode } from '../../protocol/index.ts';
import { isStoreError, type Store } from '../store/index.ts';
import type { Session } from './session.ts';

export interface RegistryOptions {
  store: Store;
  logger: Logger;
  heartbeatMs: number;
  deadAfterMs: number;
  revocationPollMs: number;
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
  #sweepTimer: NodeJS.Timeout | undefined;
  #revocationTimer: NodeJS.Timeout | undefined;
  #revokeCursor = 0;

  constructor(opts: RegistryOptions) {
    super();
    this.#opts = opts;
  }

  start(): void {
    this.#revokeCursor = this.#opts.store.tokens.maxRevokeSeq();
    const sweepEvery = Math.max(5, Math.floor(Math.min(this.#opts.heartbeatMs, this.#opts.deadAfterMs) / 3));
    this.#sweepTimer = setInterval(() => this.#sweep(), sweepEvery);
    this.#sweepTimer.unref();
    this.#revocationTimer = setInterval(() => this.#pollRevocations(), this.#opts.revocationPollMs);
    this.#revocationTimer.unref();
  }

  stop(): void {
    clearInterval(this.#sweepTimer);
    clearInterval(this.#revocationTimer);
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
    const deadline = Date.now() + graceMs;
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            const t = setTimeout(() => {
              ws.terminate();
              resolve();
            }, Math.max(0, deadline - Date.now()));
            ws.once('close', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
  }

  #sweep(): void {
    const now = performance.now();
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
