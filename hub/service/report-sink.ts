import type { EventEmitter } from 'node:events';
import { safeEmit } from '../../lib/safe-emit.ts';
import { updateSteps, type EventData, type Hello } from '../../protocol/index.ts';
import type { LinkSink } from '../link/link-server.ts';
import type { SessionRegistry } from '../link/registry.ts';
import type { RecordEvt, Session, StateEvt } from '../link/session.ts';
import type { HubMetrics } from '../metrics.ts';
import type { HubState } from './hub-state.ts';
import { ingestRecord } from './ingest.ts';
import type { RecordEffect } from './record-effect.ts';
import { AuditQuota } from './audit-quota.ts';
import { CATALOG_SHOWN } from '../store/backups.ts';
import type { Ownership } from './ownership.ts';
import type { HubServiceEvents } from './types.ts';

export interface ReportSinkOptions {
  state: HubState;
  ownership: Ownership;
  /** Sessions coming and going (agentOnline/agentOffline and the views they change). */
  registry: SessionRegistry;
  metrics: HubMetrics;
  /** The one emitter every consumer (event log, players, Discord, webhooks) subscribes to: the command service. */
  events: EventEmitter<HubServiceEvents>;
  /** Status snapshots are written behind, batched, at most this often. */
  snapshotFlushMs?: number;
  /** Raw records kept per agent (the newest; record-events.ts keepNewest), trimmed every `recordsTrimEvery` records. */
  recordsKept?: number;
  recordsTrimEvery?: number;
  /** Catalog rows kept per server (the newest; backups.ts keepNewest), trimmed as often as the delivery log. */
  catalogKept?: number;
}

export const DefaultReportSinkOptions = { snapshotFlushMs: 1000, recordsKept: 10_000, recordsTrimEvery: 500, catalogKept: CATALOG_SHOWN } satisfies Partial<ReportSinkOptions>;

/**
 * What agents report, taken in: hello (ownership claims), state (status,
 * progress) and records (stored idempotently, then announced). The link
 * server hands every authenticated session's traffic here.
 */
/** True on every `every`-th hit of a key. */
class EveryNth {
  readonly #every: number;
  readonly #counts = new Map<string, number>();
  constructor(every: number) {
    this.#every = every;
  }

  hit(key: string): boolean {
    const n = ((this.#counts.get(key) ?? 0) + 1) % this.#every;
    this.#counts.set(key, n);
    return n === 0;
  }
}

/** Update steps audited per update of one server (every step twice over). */
const MAX_AUDITED_STEPS = updateSteps.length * 2;

export class ReportSink implements LinkSink {
  readonly #state: HubState;
  readonly #ownership: Ownership;
  readonly #metrics: HubMetrics;
  readonly #events: EventEmitter<HubServiceEvents>;
  readonly #flushMs: number;
  /** Per server: the update step last audited, and how many steps this update audited. */
  readonly #updateSteps = new Map<string, { step: string; audited: number }>();
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #auditQuota: AuditQuota;
  /** Records stored per agent since its delivery log was last trimmed. */
  readonly #recordsKept: number;
  readonly #catalogKept: number;
  /** Retention runs every so many rows per agent (delivery log) and per server (catalog), not per row. */
  readonly #deliveryTrims: EveryNth;
  readonly #catalogTrims: EveryNth;

  constructor(options: ReportSinkOptions) {
    this.#state = options.state;
    this.#auditQuota = new AuditQuota(() => options.state.now());
    this.#ownership = options.ownership;
    this.#metrics = options.metrics;
    this.#events = options.events;
    this.#flushMs = options.snapshotFlushMs ?? DefaultReportSinkOptions.snapshotFlushMs;
    this.#recordsKept = options.recordsKept ?? DefaultReportSinkOptions.recordsKept;
    this.#catalogKept = options.catalogKept ?? DefaultReportSinkOptions.catalogKept;
    const every = options.recordsTrimEvery ?? DefaultReportSinkOptions.recordsTrimEvery;
    this.#deliveryTrims = new EveryNth(every);
    this.#catalogTrims = new EveryNth(every);
    options.registry.on('online', (s) => {
      this.#emit('agentOnline', s.agentId);
      this.#emitAgentServers(s.agentId);
    });
    options.registry.on('offline', (s) => {
      const { store, logger, progress } = this.#state;
      try {
        store.agents.touch(s.agentId, this.#state.iso());
      } catch (err) {
        logger.warn({ err, agentId: s.agentId }, 'could not record last_seen');
      }
      for (const [serverId, p] of progress) if (p.agentId === s.agentId) progress.delete(serverId);
      this.#emit('agentOffline', s.agentId);
      this.#emitAgentServers(s.agentId);
    });
  }

  /** Starts writing status snapshots behind (the hub starts it when it listens). */
  start(): void {
    if (this.#flushTimer) return;
    this.#flushTimer = setInterval(() => this.flushSnapshots(), this.#flushMs);
    this.#flushTimer.unref();
  }

  /** Stops the writer and writes what is pending. */
  close(): void {
    clearInterval(this.#flushTimer);
    this.#flushTimer = undefined;
    this.flushSnapshots();
  }

  hello(session: Session, hello: Hello): number {
    const agentId = session.agentId;
    const { store, directory } = this.#state;
    const { owned, conflicts } = this.#ownership.claim(session, hello);
    const { removed } = directory.applyHello(agentId, owned);
    for (const serverId of removed) {
      this.#state.pendingSnapshots.delete(serverId);
      store.snapshots.remove(agentId, serverId);
      store.updates.remove(serverId, agentId);
    }
    if (conflicts.length) for (const alert of this.#ownership.reportConflicts(session, conflicts)) this.#emit('alert', alert);
    // A replacing connection: the agent stays online, but its server list may have changed.
    if (this.#state.liveSession(agentId)) this.#emitAgentServers(agentId);
    return store.agents.ackedSeq(agentId);
  }

  state(session: Session, evt: StateEvt): void {
    const agentId = session.agentId;
    const { directory } = this.#state;
    if (evt.topic === 'status') {
      if (!directory.applyStatus(agentId, evt.data)) return;
      this.#state.pendingSnapshots.set(evt.data.id, { agentId, status: evt.data });
      const entry = directory.get(evt.data.id);
      if (entry) this.#emit('server', this.#state.view(entry));
    } else if (evt.topic === 'update.progress') {
      if (directory.agentOf(evt.data.serverId) !== agentId) return;
      this.#auditUpdateStep(agentId, evt.data);
      this.#emit('updateProgress', { ...evt.data, agentId });
    } else if (evt.topic === 'backup.progress') {
      const p = { ...evt.data, agentId };
      if (directory.agentOf(p.serverId) !== agentId) return;
      if (p.phase === 'done') this.#state.progress.delete(p.serverId);
      else this.#state.progress.set(p.serverId, p);
      this.#emit('backupProgress', p);
    } else {
      // Every state topic of protocol/ is handled above: one it gains stops this compiling until it is handled here.
      const unhandled: never = evt;
      void unhandled;
    }
  }

  record(session: Session, evt: RecordEvt): number {
    const agentId = session.agentId;
    const gate = (serverId: string) => ({ allowance: this.#auditQuota.take(serverId), until: new Date(this.#auditQuota.windowEnd(serverId)).toISOString() });
    const result = ingestRecord(this.#state.store, agentId, evt, this.#state.iso(), (serverId) => this.#ownership.owns(agentId, serverId), gate);
    const { store } = this.#state;
    if (result.accepted && this.#deliveryTrims.hit(agentId)) this.#trim('delivery log', agentId, () => store.events.keepNewest(agentId, this.#recordsKept));
    if (result.effect?.kind === 'backupRecorded') {
      const serverId = result.effect.record.serverId;
      if (this.#catalogTrims.hit(serverId)) this.#trim('backup catalog', serverId, () => store.backups.keepNewest(serverId, this.#catalogKept));
    }
    this.#metrics.recordEvents.labels(evt.topic, !result.accepted ? 'duplicate' : result.effect ? 'accepted' : 'foreign').inc();
    if (result.accepted && !result.effect) session.logger.warn({ topic: evt.topic, seq: evt.seq, serverId: evt.data.serverId }, 'record about a server this agent does not own; acked and dropped');
    if (result.effect) this.#emitEffect(agentId, result.effect);
    return result.ackedSeq;
  }

  /** Keeps only the newest rows (record-events.ts, backups.ts keepNewest); a store fault waits for the next turn. */
  #trim(what: string, key: string, keepNewest: () => number): void {
    try {
      keepNewest();
    } catch (err) {
      this.#state.logger.warn({ err, key }, `could not trim the ${what}; tried again later`);
    }
  }

  /** Writes pending status snapshots in one transaction. */
  flushSnapshots(): void {
    const { store, logger, pendingSnapshots: dirty } = this.#state;
    if (dirty.size === 0 || !store.open) return;
    const batch = [...dirty.values()];
    dirty.clear();
    try {
      store.transaction(() => {
        for (const { agentId, status } of batch) store.snapshots.upsert(agentId, status);
      });
    } catch (err) {
      logger.warn({ err, count: batch.length }, 'could not persist status snapshots; will retry');
      for (const b of batch) if (!dirty.has(b.status.id)) dirty.set(b.status.id, b);
    }
  }

  #emitEffect(agentId: string, effect: RecordEffect): void {
    switch (effect.kind) {
      case 'alert':
        if (effect.alert.kind === 'backup_failed') this.#metrics.backupsTotal.labels('failed').inc();
        this.#emit('alert', { ...effect.alert, agentId });
        return;
      case 'backupRecorded':
        if (effect.completed) this.#metrics.backupsTotal.labels('ok').inc();
        this.#emit('backupRecorded', { ...effect.record, agentId });
        return;
      case 'backupRemoved':
        this.#emit('backupRemoved', { agentId, serverId: effect.serverId, backupId: effect.backupId, remaining: effect.remaining });
        return;
      case 'restoreCompleted':
        this.#emit('restoreCompleted', { ...effect.outcome, agentId });
        return;
      case 'updateState': {
        if (effect.record.event === 'outcome') this.#updateSteps.delete(effect.record.serverId);
        this.#emit('updateState', { ...effect.record, agentId });
        // The board shows the build and "update available": refresh the server's view.
        const entry = this.#state.directory.get(effect.record.serverId);
        if (entry) this.#emit('server', this.#state.view(entry));
        return;
      }
    }
  }

  /** Every step an update enters is audited once (its progress within a step, like download percent, is not). */
  #auditUpdateStep(agentId: string, p: EventData<'update.progress'>): void {
    const last = this.#updateSteps.get(p.serverId);
    if (last?.step === p.step) return;
    const audited = (last?.audited ?? 0) + 1;
    if (p.step === 'done') this.#updateSteps.delete(p.serverId);
    else this.#updateSteps.set(p.serverId, { step: p.step, audited });
    // An update passes each step once (a rollback a few twice). An agent that keeps switching steps
    // gets one row saying so, not a row per switch: the audit log is never pruned.
    if (audited > MAX_AUDITED_STEPS + 1) return;
    const detail = audited > MAX_AUDITED_STEPS
      ? `further steps of this update are not audited: the agent reported more than ${MAX_AUDITED_STEPS} step changes`
      : `${p.step}: ${p.message}`.slice(0, 500);
    try {
      this.#state.audit({ actor: { kind: 'system', id: agentId }, action: 'update.step', serverId: p.serverId, outcome: audited > MAX_AUDITED_STEPS ? 'denied' : 'ok', detail });
    } catch (err) {
      this.#state.logger.warn({ err, serverId: p.serverId }, 'could not audit an update step');
    }
  }

  #emitAgentServers(agentId: string): void {
    const { directory } = this.#state;
    for (const serverId of directory.serversOf(agentId)) {
      const entry = directory.get(serverId);
      if (entry) this.#emit('server', this.#state.view(entry));
    }
  }

  /** A listener's bug (Discord, metrics) must not undo what the agent reported. */
  #emit<E extends keyof HubServiceEvents>(event: E, ...args: HubServiceEvents[E]): void {
    safeEmit(this.#events, this.#state.logger, event, ...args);
  }
}
