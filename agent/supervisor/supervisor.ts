import { EventEmitter, once } from 'node:events';
import { ReconSyncError, systemClock, type Clock, type Resources, type ServerState, type ServerStatus } from '../../protocol/index.ts';

export { DefaultSupervisorOptions, type RestartOptions, type SupervisorOptions } from './options.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import type { QueryResult, ResolvedServer, ServerControl } from '../types.ts';
import { sampleResources, unknownResources } from '../monitors/resources.ts';
import { ServerStateMachine } from './state.ts';
import { ProcessLauncher, type ExitInfo, type Launcher, type ProcessHandle } from './launcher.ts';
import { RestartPolicy } from './restart-policy.ts';
import { PowerLock, type PowerAction } from './power-lock.ts';
import { runStopSequence, type StopOutcome } from './stop-sequence.ts';
import { runCountdown } from './countdown.ts';
import { DefaultSupervisorOptions, type RestartOptions, type SupervisorOptions } from './options.ts';
import { DelayedRun, pause, withTimeout } from './timers.ts';
import { StatusGate } from './status-gate.ts';
import { judgeHealth, type QueryOutcome } from './health.ts';
import { SupervisorEvents, type SupervisorAlertKind, type SupervisorEventsMap } from './events.ts';

type Intent = 'run' | 'stop';
const noPlayers = { online: 0, max: 0, names: [] as string[] };

/**
 * Watches one game server and, when managed, keeps it running (design.md §6).
 * State changes go through ServerStateMachine; power actions (start, stop,
 * restart and the supervisor's own crash/hang restarts) are serialised by a
 * PowerLock that refuses a second one with BUSY.
 */
export class Supervisor extends EventEmitter<SupervisorEventsMap> implements ServerControl {
  readonly server: ResolvedServer;
  readonly #o: SupervisorOptions & typeof DefaultSupervisorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #launcher: Launcher;
  readonly #machine: ServerStateMachine;
  readonly #policy: RestartPolicy;
  readonly #lock = new PowerLock();
  readonly #closing = new AbortController();
  readonly #holds = new Map<symbol, string>();
  #handle: ProcessHandle | null = null;
  #intent: Intent = 'stop';
  /** True while a stop sequence owns the process: its exit is expected, not a crash. */
  #stopping = false;
  #failures = 0;
  #lastQuery: QueryResult | null = null;
  #resources: Resources = unknownResources;
  #message: string | undefined;
  readonly #recovery: DelayedRun;
  #wake: AbortController | null = null;
  #loop: Promise<void> | null = null;
  #adoptTriedAt = Number.NEGATIVE_INFINITY;
  readonly #statusGate: StatusGate;

  constructor(opts: SupervisorOptions) {
    super();
    this.#o = { ...DefaultSupervisorOptions, ...opts } as SupervisorOptions & typeof DefaultSupervisorOptions;
    this.server = opts.server;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger ?? silentLogger;
    this.#launcher = opts.launcher ?? new ProcessLauncher({ platform: opts.platform, dataDir: opts.dataDir, clock: this.#clock, logger: this.#log });
    this.#machine = new ServerStateMachine('unknown', this.#clock.now());
    this.#statusGate = new StatusGate(this.#o.statusHeartbeatMs);
    this.#recovery = new DelayedRun(this.#clock, this.#closing.signal);
    const r = opts.server.config.restart;
    this.#policy = new RestartPolicy({ maxPerHour: r.maxPerHour, backoffMs: r.backoffMs });
  }

  get state(): ServerState {
    return this.#machine.state;
  }

  get managed(): boolean {
    return this.server.managed && this.server.start !== null;
  }

  get canStopGracefully(): boolean {
    return this.#o.admin !== null || this.#o.platform.canSoftStop;
  }

  /** The watched process, if any. */
  /** The power action running now (a restart counting down, a stop...), or null: an update refuses to start meanwhile. */
  get powerAction(): PowerAction | null {
    return this.#lock.current;
  }

  get pid(): number | null {
    return this.#handle?.pid ?? null;
  }

  get held(): boolean {
    return this.#holds.size > 0;
  }

  /** Looks for an already running game, then starts the health loop. Idempotent. */
  async open(): Promise<void> {
    if (this.#loop) return;
    const handle = await this.#launcher.adopt(this.server).catch((err: unknown) => {
      this.#log.warn({ err }, 'looking for a running game process failed');
      return null;
    });
    if (handle) {
      this.#attach(handle);
      this.#intent = 'run';
    } else if (this.managed) {
      this.#transition('stopped', 'no running game process found');
    }
    this.#loop = this.#runLoop();
  }

  /** Stops watching. The game keeps running; a later open() adopts it again. */
  async close(): Promise<void> {
    this.#closing.abort();
    this.#recovery.cancel();
    await this.#loop;
    this.#handle?.release();
  }

  status(): ServerStatus {
    const state = this.state;
    return {
      id: this.server.id,
      game: this.server.profile.id,
      name: this.server.name,
      managed: this.managed,
      state,
      players: state === 'running' && this.#lastQuery ? this.#lastQuery.players : noPlayers,
      map: this.#lastQuery?.map ?? null,
      version: this.#lastQuery?.version ?? null,
      resources: this.#resources,
      lastBackup: this.#o.lastBackup?.() ?? null,
      ...(this.#message !== undefined ? { message: this.#message } : {}),
      updatedAt: this.#iso(),
    };
  }

  async start(): Promise<ServerState> {
    this.#assertManaged('start');
    return this.#lock.run('start', async () => {
      this.#intent = 'run';
      this.#recovery.cancel();
      this.#policy.reset();
      this.#message = undefined;
      if (!this.#handle) await this.#spawn('operator start', 'stopped');
      this.#wakeUp();
      return this.state;
    });
  }

  async stop(opts: { reason?: string } = {}): Promise<StopOutcome> {
    this.#assertManaged('stop');
    return this.#lock.run('stop', async () => {
      this.#intent = 'stop';
      this.#recovery.cancel();
      const handle = this.#handle;
      if (!handle) {
        if (this.state !== 'stopped') this.#transition('stopped', opts.reason ?? 'operator stop');
        return { graceful: true, message: 'already stopped' };
      }
      return this.#stopProcess(handle, opts.reason ?? 'operator stop');
    });
  }

  /** Warns players at `warnAt` seconds before, then stop + start. CANCELLED when the signal aborts during the countdown. */
  async restart(opts: RestartOptions = {}): Promise<{ state: ServerState; graceful: boolean; message?: string }> {
    this.#assertManaged('restart');
    return this.#lock.run('restart', async () => {
      const reason = opts.reason ?? 'operator restart';
      if (this.#handle && opts.warnAt?.length) {
        await runCountdown({
          clock: this.#clock, admin: this.#o.admin, logger: this.#log,
          message: this.#o.restartMessage, cancelledMessage: this.#o.restartCancelledMessage,
          broadcastTimeoutMs: this.#o.broadcastTimeoutMs,
        }, opts.warnAt, opts.signal);
      } else if (opts.signal?.aborted) {
        throw new ReconSyncError('CANCELLED', 'restart cancelled before it began; the server was not stopped');
      }
      this.#intent = 'stop';
      this.#recovery.cancel();
      let outcome: StopOutcome = { graceful: true, message: 'was not running' };
      const handle = this.#handle;
      if (handle) outcome = await this.#stopProcess(handle, reason);
      this.#intent = 'run';
      this.#policy.reset();
      this.#message = undefined;
      await this.#spawn(reason, 'stopped');
      this.#wakeUp();
      return { state: this.state, graceful: outcome.graceful, message: outcome.message };
    });
  }

  /** Runs a command on the game's admin channel. */
  async rcon(command: string, signal?: AbortSignal): Promise<string> {
    const admin = this.#o.admin;
    if (!admin) throw new ReconSyncError('NOT_SUPPORTED', `${this.server.name} has no admin channel (RCON/telnet/REST) configured`);
    try {
      return await admin.exec(command, signal);
    } catch (err) {
      if (err instanceof ReconSyncError) throw err;
      throw new ReconSyncError('ADMIN_CHANNEL', `${admin.kind}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  hold(reason: string): () => void {
    const key = Symbol(reason);
    this.#holds.set(key, reason);
    this.#log.debug({ reason }, 'held');
    return () => {
      if (this.#holds.delete(key)) this.#log.debug({ reason }, 'released');
    };
  }

  async waitFor(state: ServerState, signal: AbortSignal): Promise<void> {
    while (this.state !== state) {
      await once(this, SupervisorEvents.State, { signal });
    }
  }

  // ---- process lifecycle -------------------------------------------------

  #attach(handle: ProcessHandle): void {
    this.#handle = handle;
    this.#failures = 0;
    void handle.exited.then((info) => this.#guard(() => this.#onExit(handle, info)));
  }

  async #spawn(reason: string, onFailure: 'stopped' | 'crashed'): Promise<void> {
    this.#transition('starting', reason);
    let handle: ProcessHandle;
    try {
      handle = await this.#launcher.spawn(this.server);
    } catch (err) {
      this.#transition(onFailure, `could not start: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    this.#attach(handle);
  }

  async #stopProcess(handle: ProcessHandle, reason: string): Promise<StopOutcome> {
    this.#stopping = true;
    try {
      this.#transition('stopping', reason);
      const outcome = await runStopSequence({
        handle, admin: this.#o.admin, platform: this.#o.platform, clock: this.#clock, logger: this.#log,
        gameName: this.server.profile.name,
        timeoutMs: this.server.config.stop.timeoutMs,
        softAfterAdminMs: this.#o.softStopAfterAdminMs,
        killWaitMs: this.#o.killWaitMs,
      }).catch((err: unknown) => {
        this.#transition('unresponsive', 'stop failed: the process is still alive');
        throw err;
      });
      if (this.#handle === handle) this.#detach();
      // A hard stop stays visible in the status until the next start.
      this.#message = outcome.graceful ? undefined : outcome.message;
      if (!outcome.graceful) this.#log.warn({ message: outcome.message }, 'server was hard-stopped');
      this.#transition('stopped', `${reason}: ${outcome.message}`);
      return outcome;
    } finally {
      this.#stopping = false;
    }
  }

  #detach(): void {
    this.#handle?.release();
    this.#handle = null;
    this.#failures = 0;
    this.#resources = { ...unknownResources, diskFreeBytes: this.#resources.diskFreeBytes };
  }

  #onExit(handle: ProcessHandle, info: ExitInfo): void {
    if (handle !== this.#handle) return;
    this.#detach();
    if (this.#stopping) return; // the stop sequence moves the state itself
    const how = describeExit(info);
    if (!this.managed) {
      this.#transition('stopped', `process exited (${how})`);
    } else if (this.held) {
      this.#transition('stopped', `process exited while held by ${[...this.#holds.values()].join(', ')} (${how})`);
    } else if (this.#intent === 'stop') {
      this.#transition('stopped', `process exited (${how})`);
    } else {
      this.#transition('crashed', `process exited unexpectedly (${how})`);
      this.#alert('crashed', `${this.server.name} exited unexpectedly (${how})`);
      this.#recover('crash');
    }
  }

  /** Crash or hang: restart per the policy, or give up. */
  #recover(cause: 'crash' | 'hang'): void {
    const r = this.server.config.restart;
    if (!this.managed || this.held || this.#intent === 'stop') return;
    if (cause === 'crash' && !r.onCrash) {
      this.#message = 'crashed; restart.onCrash is off, start it by hand';
      return;
    }
    if (cause === 'hang' && !r.onHang) return;
    const decision = this.#policy.next(this.#clock.now());
    if (decision.action === 'give_up') {
      this.#message = `gave up after ${decision.recent} restarts within an hour; start it by hand once the cause is fixed`;
      this.#alert('gave_up', `${this.server.name} ${cause === 'crash' ? 'crashed' : 'hung'} again after ${decision.recent} restarts within an hour (limit restart.maxPerHour = ${decision.max}); it stays down until started by hand`);
      this.#emitStatus();
      return;
    }
    this.#log.info({ cause, delayMs: decision.delayMs, attempt: decision.attempt }, 'restart scheduled');
    this.#recovery.schedule(decision.delayMs, async () => {
      if (this.held || this.#intent === 'stop') return;
      // The game may have come back meanwhile (a hang that cleared, a start by hand).
      if (this.state !== (cause === 'crash' ? 'crashed' : 'unresponsive')) return;
      if (this.#lock.current !== null) {
        this.#log.info({ action: this.#lock.current }, 'skipping automatic restart: a power action is running');
        return;
      }
      await this.#lock.run('recover', async () => {
        const what = cause === 'crash' ? 'a crash' : 'it stopped answering';
        const hung = this.#handle;
        if (hung) await this.#stopProcess(hung, `restarting: ${what}`);
        try {
          await this.#spawn(`automatic restart after ${what}`, 'crashed');
        } catch (err) {
          this.#alert('crashed', `${this.server.name} could not be restarted: ${err instanceof Error ? err.message : String(err)}`);
          this.#recover('crash');
          return;
        }
        this.#alert('restarted', `${this.server.name} restarted after ${what} (restart ${decision.attempt} of ${decision.max} allowed per hour)`);
        this.#wakeUp();
      });
    }, (err) => this.#log.error({ err }, 'automatic restart failed'));
  }

  // ---- health loop ---------------------------------------------------------

  async #runLoop(): Promise<void> {
    const interval = this.server.config.health.intervalMs;
    while (!this.#closing.signal.aborted) {
      await this.#tick().catch((err: unknown) => this.#log.error({ err }, 'health check failed'));
      const wake = new AbortController();
      this.#wake = wake;
      await pause(this.#clock, interval, AbortSignal.any([wake.signal, this.#closing.signal]));
    }
  }

  #wakeUp(): void {
    this.#wake?.abort();
  }

  async #tick(): Promise<void> {
    let handle = this.#handle;
    if (handle?.adopted && !handle.isAlive()) {
      this.#onExit(handle, { code: null, signal: null });
      handle = null;
    }
    if (!this.managed && !handle && this.#clock.now() - this.#adoptTriedAt >= this.#o.adoptRetryMs) {
      this.#adoptTriedAt = this.#clock.now();
      const found = await this.#launcher.adopt(this.server).catch(() => null);
      if (found && !this.#handle && !this.#closing.signal.aborted) this.#attach(found);
      else found?.release();
      handle = this.#handle;
    }
    const before = this.state;
    let outcome: QueryOutcome;
    if (this.managed && !handle) {
      // A managed game with no process is stopped or crashed; the exit handler and the power actions own those states.
      outcome = { ok: false, error: 'not running' };
      await this.#sampleResources(null);
    } else {
      outcome = await this.#query(handle);
      await this.#sampleResources(handle);
      // When something happened meanwhile (exit, stop, restart), the next tick judges afresh.
      if (!this.#closing.signal.aborted && handle === this.#handle && this.state === before) this.#judge(outcome, handle);
    }
    this.emit(SupervisorEvents.Health, {
      ok: outcome.ok, failures: this.#failures, state: this.state, at: this.#iso(),
      ...(outcome.ok ? {} : { error: outcome.error }),
    });
    this.#emitStatus();
  }

  async #query(handle: ProcessHandle | null): Promise<QueryOutcome> {
    const probe = this.#o.probe;
    if (!probe) return handle?.isAlive() ? { ok: true, result: null } : { ok: false, error: 'no status query and no process' };
    try {
      const h = this.server.config.health;
      const result = await withTimeout(this.#clock, h.queryTimeoutMs, 'status query', (s) => probe.query(s), this.#closing.signal);
      return { ok: true, result };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Applies one health check's verdict (health.ts decides). */
  #judge(outcome: QueryOutcome, handle: ProcessHandle | null): void {
    const h = this.server.config.health;
    const state = this.state;
    const v = judgeHealth({
      state, managed: this.managed, outcome,
      hasProcess: handle !== null,
      inGrace: state === 'starting' && handle !== null && this.#clock.now() - handle.startedAt < h.startGraceMs,
      failures: this.#failures,
      failureLimit: h.failures,
    });
    this.#failures = v.failures;
    if (outcome.ok && outcome.result) this.#lastQuery = outcome.result;
    if (v.to && v.reason) this.#transition(v.to, v.reason);
    if (v.alert === 'recovered') this.#alert('recovered', `${this.server.name} answers again`);
    if (v.alert === 'unresponsive') this.#alert('unresponsive', `${this.server.name} is not answering its status query (${v.failures} failures in a row) although its process runs`);
    if (v.hang) this.#recover('hang');
  }

  async #sampleResources(handle: ProcessHandle | null): Promise<void> {
    const sample = this.#o.resources ?? sampleResources;
    try {
      this.#resources = await sample({ pid: handle?.pid ?? null, startedAt: handle?.startedAt ?? null, savePath: this.server.savePaths[0] ?? null });
    } catch (err) {
      this.#log.debug({ err }, 'resource sample failed');
    }
  }

  // ---- events ---------------------------------------------------------------

  #transition(to: ServerState, reason: string): void {
    const change = this.#machine.transition(to, reason, this.#clock.now());
    if (!change) return;
    if (to !== 'running' && to !== 'unresponsive') this.#failures = 0;
    this.#log.info({ from: change.from, to, reason }, 'state changed');
    this.emit(SupervisorEvents.State, { from: change.from, to, reason, at: this.#iso() });
    this.#emitStatus();
  }

  #alert(kind: SupervisorAlertKind, message: string): void {
    this.#log.warn({ kind }, message);
    this.emit(SupervisorEvents.Alert, { kind, message, at: this.#iso() });
  }

  #emitStatus(): void {
    const status = this.status();
    if (this.#statusGate.pass(status, this.#clock.now())) this.emit(SupervisorEvents.Status, status);
  }

  #assertManaged(action: string): void {
    if (!this.managed) throw new ReconSyncError('NOT_MANAGED', `cannot ${action} ${this.server.id}: the agent only watches it; add a start: section to manage it`);
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ err }, 'supervisor bug');
    }
  }

  #iso(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}

function describeExit(info: ExitInfo): string {
  if (info.signal) return `signal ${info.signal}`;
  if (info.code !== null) return `code ${info.code}`;
  return 'process gone';
}
