import type { Logger } from '../../lib/logger.ts';
import { CloseCode, type Hello, type ServerSummary } from '../../protocol/index.ts';
import type { Session } from '../link/session.ts';
import type { OwnershipChange, Store } from '../store/index.ts';
import type { ServerDirectory } from './directory.ts';
import { forgetAgent, forgetServer, purgeAgent } from './forget.ts';
import type { Actor, ForgottenAgent, ForgottenServer, HubAlert } from './types.ts';
import { stripUndefined } from '../../lib/strip-undefined.ts';

export interface OwnershipOptions {
  store: Store;
  directory: ServerDirectory;
  logger: Logger;
  /** The current time as ISO text (the service's clock). */
  now: () => string;
  /** The agent's open session, if any. */
  session: (agentId: string) => Session | undefined;
  /** A server left the directory: drop its pending snapshot and progress. */
  dropped: (serverId: string) => void;
  /** How often the store is polled for forgets made by the CLI (another process). */
  pollMs?: number;
  /** One audit row and alert per (server, claimant) in this window; every refusal is logged. */
  conflictReportMs?: number;
  /** Bound on the (server, claimant) pairs remembered for that window. */
  maxConflictKeys?: number;
  /**
   * Server ids one agent may own. Ownership outlives the agent's listing (until an operator forgets it), so
   * without a bound one agent token could claim ids without end: rows for ever, and ids squatted before the
   * agents that will run them are enrolled. One hello lists at most 256.
   */
  maxServersPerAgent?: number;
}

const DefaultOwnershipOptions = { pollMs: 1000, conflictReportMs: 15 * 60_000, maxConflictKeys: 10_000, maxServersPerAgent: 256 } satisfies Partial<OwnershipOptions>;

export interface Conflict {
  serverId: string;
  /** The agent that owns it; null: nobody, but the claimant already owns as many ids as it may. */
  owner: string | null;
}

/**
 * Who may speak for a server. A server id belongs to the first agent whose
 * hello listed it (stored, so it holds while that agent is offline and across
 * hub restarts); another agent's claim is refused for that server only,
 * logged, audited and alerted as server_conflict. Operators free ids with
 * forget (API here, CLI from another process through the store's change log).
 */
export class Ownership {
  readonly #opts: Required<OwnershipOptions>;
  readonly #reported = new Map<string, number>();
  #cursor: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: OwnershipOptions) {
    this.#opts = { ...DefaultOwnershipOptions, ...stripUndefined(options) } as Required<OwnershipOptions>;
    // Forgets before this start are already in the store the directory is seeded from.
    this.#cursor = this.#opts.store.ownershipChanges.maxSeq();
  }

  start(): void {
    this.#timer = setInterval(() => this.poll(), this.#opts.pollMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Records the hello and claims its servers in one transaction. Returns the
   * servers this agent owns and the ones another agent owns. Throws on a store
   * fault (the session is then refused and the agent retries).
   */
  claim(session: Session, hello: Hello): { owned: ServerSummary[]; conflicts: Conflict[] } {
    const { store } = this.#opts;
    const at = this.#opts.now();
    const agentId = session.agentId;
    return store.transaction(() => {
      store.agents.recordHello(agentId, hello.agentVersion, hello.servers, at);
      store.tokens.markUsed(session.tokenId, at);
      const owned: ServerSummary[] = [];
      const conflicts: Conflict[] = [];
      let count = store.owners.countOf(agentId);
      for (const summary of hello.servers) {
        const before = store.owners.ownerOf(summary.id);
        if (before === null && count >= this.#opts.maxServersPerAgent) {
          conflicts.push({ serverId: summary.id, owner: null });
          continue;
        }
        const owner = store.owners.claim(summary.id, agentId, at);
        if (owner !== agentId) conflicts.push({ serverId: summary.id, owner });
        else {
          owned.push(summary);
          if (before === null) count++;
        }
      }
      return { owned, conflicts };
    });
  }

  /** True when the store says the agent owns the server (records are checked here, inside their transaction). */
  owns(agentId: string, serverId: string): boolean {
    return this.#opts.store.owners.ownerOf(serverId) === agentId;
  }

  /**
   * Logs every refused claim; audits each (server, claimant) once per window, so a reconnect loop cannot flood
   * the audit log or the alerts. Returns the alerts to raise (the caller owns the event path).
   */
  reportConflicts(session: Session, conflicts: Conflict[]): HubAlert[] {
    const claimant = session.agentId;
    const nowMs = Date.parse(this.#opts.now());
    const alerts: HubAlert[] = [];
    for (const { serverId, owner } of conflicts) {
      session.logger.warn({ serverId, owner }, owner === null ? 'agent owns as many server ids as it may; this new one is refused (its other servers are unaffected)' : 'server id belongs to another agent; refused for this agent (its other servers are unaffected)');
      const key = `${serverId}\u0000${claimant}`;
      const last = this.#reported.get(key);
      if (last !== undefined && nowMs - last < this.#opts.conflictReportMs) continue;
      this.#reported.delete(key);
      this.#reported.set(key, nowMs);
      if (this.#reported.size > this.#opts.maxConflictKeys) this.#reported.delete(this.#reported.keys().next().value as string);
      const message = owner === null
        ? `agent "${claimant}" claims server "${serverId}", but it already owns ${this.#opts.maxServersPerAgent} server ids (ids it no longer lists keep their owner until forgotten); refused. Forget the ones it no longer runs (reconsync server forget <id> --config hub.yaml), then restart agent "${claimant}".`
        : `agent "${claimant}" claims server "${serverId}", which belongs to agent "${owner}"; refused. If the server really moved: reconsync server forget ${serverId} --config hub.yaml, then restart agent "${claimant}".`;
      const at = this.#opts.now();
      try {
        this.#opts.store.audit.append({ at, actor: { kind: 'system', id: claimant }, action: 'server.conflict', serverId, outcome: 'denied', detail: message });
      } catch (err) {
        this.#opts.logger.error({ err, serverId }, 'could not audit a server conflict');
      }
      alerts.push({ serverId, kind: 'server_conflict', message, at, agentId: claimant });
    }
    return alerts;
  }

  forgetServer(serverId: string, actor: Actor): ForgottenServer {
    const result = forgetServer(this.#opts.store, serverId, actor, this.#opts.now());
    this.#applyServer(serverId, result.formerOwner);
    return result;
  }

  forgetAgent(agentId: string, actor: Actor): ForgottenAgent {
    const result = forgetAgent(this.#opts.store, agentId, actor, this.#opts.now());
    this.#applyAgent(agentId);
    return result;
  }

  /** Applies forgets another process (the CLI) wrote. Each apply is idempotent and checks the store's current owner. */
  poll(): void {
    let changes: OwnershipChange[];
    try {
      changes = this.#opts.store.ownershipChanges.since(this.#cursor);
    } catch (err) {
      this.#opts.logger.warn({ err }, 'ownership change poll failed; will retry');
      return;
    }
    for (const c of changes) {
      try {
        if (c.kind === 'server') this.#applyServer(c.subject, c.formerOwner);
        else this.#applyAgent(c.subject);
        this.#cursor = c.seq;
      } catch (err) {
        this.#opts.logger.warn({ err, change: c.seq }, 'could not apply a forget; will retry');
        return;
      }
    }
  }

  #applyServer(serverId: string, formerOwner: string): void {
    const { store, directory } = this.#opts;
    // The store is the truth: an agent may have claimed the id between the forget and this poll.
    const owner = store.owners.ownerOf(serverId);
    const entry = directory.get(serverId);
    if (entry && entry.agentId !== owner) {
      directory.remove(serverId);
      this.#opts.dropped(serverId);
    }
    // A status flushed between the forget (another process) and now.
    if (owner === null) store.snapshots.remove(formerOwner, serverId);
    const log = this.#opts.logger.child({ serverId });
    log.info({ formerOwner }, 'server forgotten by an operator; the next agent whose hello lists it owns it');
    if (owner === null && this.#opts.session(formerOwner)?.servers.some((s) => s.id === serverId)) {
      log.warn({ agentId: formerOwner }, 'the former owner is connected and still lists the server: it claims it again when it reconnects unless it is removed from its agent.yaml');
    }
  }

  #applyAgent(agentId: string): void {
    const { store, directory } = this.#opts;
    for (const serverId of directory.serversOf(agentId)) {
      directory.remove(serverId);
      this.#opts.dropped(serverId);
    }
    const session = this.#opts.session(agentId);
    // 4001: the agent's close policy stops for good instead of reconnecting.
    session?.close(CloseCode.Revoked, 'agent forgotten by an operator');
    // What a still-open session wrote between the forget (another process) and the close; skipped if re-enrolled since.
    if (store.tokens.activeFor(agentId).length === 0) store.transaction(() => purgeAgent(store, agentId, this.#opts.now()));
    this.#opts.logger.info({ agentId, hadSession: session !== undefined }, 'agent forgotten by an operator');
  }
}

/** Fills the directory at start-up with what each server's stored owner reported: a claim another agent lost must not reappear after a restart. */
export function seedDirectory(store: Store, directory: ServerDirectory): void {
  const owners = new Map(store.owners.list().map((o) => [o.serverId, o.agentId]));
  for (const agent of store.agents.list()) {
    for (const summary of agent.servers) if (owners.get(summary.id) === agent.id) directory.seed(agent.id, summary, null);
  }
  for (const snap of store.snapshots.list()) if (owners.get(snap.serverId) === snap.agentId) directory.seed(snap.agentId, null, snap.status);
}

