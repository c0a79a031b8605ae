import { EventEmitter, once } from 'node:events';
import { ReconSyncError, systemClock, type Clock, type Resources, type ServerState, type ServerStatus } from '../../protocol/index.ts';
import { operatorKeepsItStopped, refuseWhileJobHolds } from './job-resume.ts';
import { runAdminCommand } from './admin-command.ts';

export { DefaultSupervisorOptions, type PowerOptions, type RestartOptions, type StopOptions, type SupervisorOptions } from './options.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import type { QueryResult, ResolvedServer, ResumeOutcome, ServerControl } from '../types.ts';
import { sampleResources, unknownResources } from '../monitors/resources.ts';
import { ServerStateMachine } from './state.ts';
import { ProcessLauncher, describeExit, type ExitInfo, type Launcher, type ProcessHandle } from './launcher.ts';
import { PowerLock, type PowerAction } from './power-lock.ts';
import { runStopSequence, type StopOutcome } from './stop-sequence.ts';
import { runCountdown } from './countdown.ts';
import { DefaultSupervisorOptions, type PowerOptions, type RestartOptions, type StopOptions, type SupervisorOptions } from './options.ts';
import { TickLoop } from './timers.ts';
import { Recovery } from './recovery.ts';
import { IntentFile, OperatorWord } from './intent.ts';
import { StatusGate, buildStatus } from './status-gate.ts';
import { judgeHealth, queryHealth, type QueryOutcome } from './health.ts';
import { SupervisorEvents, type SupervisorAlertKind, type SupervisorEventsMap } from './events.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * Watches one game server and, when managed, keeps it running (design.md §6).
 * It alone owns "should this server run": the lifecycle (state, intent, holds,
 * query failures) lives in its ServerStateMachine, the operator's word in its
 * IntentStore, crash and hang restarts in Recovery. Power actions (start, stop,
 * restart and Recovery's restarts) are serialised by a PowerLock that refuses a
 * second one with BUSY. Jobs that stop the game start it through resumeAfterJob.
 */
export class Supervisor extends EventEmitter<SupervisorEventsMap> implements ServerControl {
  readonly server: ResolvedServer;
  readonly #o: SupervisorOptions & typeof DefaultSupervisorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #launcher: Launcher;
  readonly #machine: ServerStateMachine;
  readonly #lock = new PowerLock();
  readonly #closing = new AbortController();
  readonly #operator: OperatorWord;
  #handle: ProcessHandle | null = null;
  #lastQuery: QueryResult | null = null;
  #resources: Resources = unknownResources;
  #message: string | undefined;
  readonly #recovery: Recovery;
  #loop: TickLoop | null = null;
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
    this.#operator = new OperatorWord(opts.intent ?? new IntentFile(opts.dataDir, opts.server.id, this.#clock));
    this.#recovery = new Recovery({
      clock: this.#clock, closing: this.#closing.signal, logger: this.#log,
      host: {
        server: this.server, managed: this.managed, machine: this.#machine, lock: this.#lock,
        stopLeftover: async (why) => {
          const leftover = this.#handle;
          if (leftover) await this.#stopProcess(leftover, why);
        },
        spawn: (why) => this.#spawn(why, 'crashed'),
        alert: (kind, message) => this.#alert(kind, message),
        note: (message) => {
          this.#message = message;
          this.#emitStatus();
        },
        wakeUp: () => this.#wakeUp(),
      },
    });
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

  /** The power action running now (a restart counting down, a stop...), or null: an update refuses to start meanwhile. */
  get powerAction(): PowerAction | null {
    return this.#lock.current;
  }

  get pid(): number | null {
    return this.#handle?.pid ?? null;
  }

  get held(): boolean {
    return this.#machine.held;
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
      this.#machine.want('run');
    } else if (this.managed) {
      this.#transition('stopped', 'no running game process found');
    }
    this.#loop = new TickLoop(this.#clock, this.server.config.health.intervalMs, this.#closing.signal, () => this.#tick().catch((err: unknown) => this.#log.error({ err }, 'health check failed')));
  }

  /** Stops watching. The game keeps running; a later open() adopts it again. */
  async close(): Promise<void> {
    this.#closing.abort();
    this.#recovery.cancel();
    await this.#loop?.done;
    this.#handle?.release();
  }

  status(): ServerStatus {
    return buildStatus({
      server: this.server, managed: this.managed, state: this.state, lastQuery: this.#lastQuery, resources: this.#resources,
      lastBackup: this.#o.lastBackup?.() ?? null, message: this.#message, at: this.#iso(),
    });
  }

  async start(opts: PowerOptions = {}): Promise<ServerState> {
    this.#assertManaged('start');
    return this.#lock.run('start', async () => {
      refuseWhileJobHolds('start', this.server.name, this.#machine.heldBy, this.#handle !== null);
      const state = await this.#bringUp('operator start');
      if (opts.operator) await this.#operator.keep('run');
      return state;
    });
  }

  /** A job (backup, restore, update) that stopped the game starts it again, unless an operator stopped it meanwhile (job-resume.ts). */
  async resumeAfterJob(job: string): Promise<ResumeOutcome> {
    this.#assertManaged('start');
    return this.#lock.runWhenFree('start', async () => {
      const left = await operatorKeepsItStopped(this.#operator, job, this.state);
      if (left) this.#log.info({ job }, left.message);
      return left ?? { started: true, state: await this.#bringUp(`after the ${job}`) };
    });
  }

  /**
   * At agent start (after open, and after an interrupted update was finished):
   * starts a managed game configured with start.autoStart that is stopped,
   * unless an operator's stop stands.
   */
  async autoStart(): Promise<void> {
    if (!this.managed || !this.server.config.start?.autoStart || this.state !== 'stopped') return;
    if ((await this.#operator.read()) === 'stop' || this.state !== 'stopped') return;
    await this.start();
  }

  async stop(opts: StopOptions = {}): Promise<StopOutcome> {
    this.#assertManaged('stop');
    return this.#lock.run('stop', async () => {
      // Recorded before the stop, so an agent killed mid-stop still leaves the game down on its next start.
      const undo = opts.operator && (await this.#operator.read()) !== 'stop' ? await this.#operator.keep('stop') : null;
      this.#machine.want('stop');
      this.#recovery.cancel();
      try {
        const handle = this.#handle;
        if (!handle) {
          if (this.state !== 'stopped') this.#transition('stopped', opts.reason ?? 'operator stop');
          return { graceful: true, message: 'already stopped' };
        }
        return await this.#stopProcess(handle, opts.reason ?? 'operator stop');
      } catch (err) {
        await undo?.().catch((e: unknown) => this.#log.error({ err: e }, 'could not take back the operator stop record after the stop failed'));
        throw err;
      }
    });
  }

  /** Warns players at `warnAt` seconds before, then stop + start. CANCELLED when the signal aborts during the countdown. */
  async restart(opts: RestartOptions = {}): Promise<{ state: ServerState; graceful: boolean; message?: string }> {
    this.#assertManaged('restart');
    return this.#lock.run('restart', async () => {
      const reason = opts.reason ?? 'operator restart';
      refuseWhileJobHolds('restart', this.server.name, this.#machine.heldBy, this.#handle !== null);
      // A scheduled restart never starts a game an operator stopped (e.g. while it waited for players to leave).
      const left = opts.operator ? null : await operatorKeepsItStopped(this.#operator, reason, this.state);
      if (left) return { state: left.state, graceful: true, message: left.message };
      if (this.#handle && opts.warnAt?.length) {
        await runCountdown({ clock: this.#clock, admin: this.#o.admin, logger: this.#log, message: this.#o.restartMessage,
          cancelledMessage: this.#o.restartCancelledMessage, broadcastTimeoutMs: this.#o.broadcastTimeoutMs }, opts.warnAt, opts.signal);
      } else if (opts.signal?.aborted) {
        throw new ReconSyncError('CANCELLED', 'restart cancelled before it began; the server was not stopped');
      }
      this.#machine.want('stop');
      this.#recovery.cancel();
      let outcome: StopOutcome = { graceful: true, message: 'was not running' };
      const handle = this.#handle;
      if (handle) outcome = await this.#stopProcess(handle, reason);
      const state = await this.#bringUp(reason);
      // Running again by an operator's word: an earlier operator stop no longer holds.
      if (opts.operator) await this.#operator.keep('run');
      return { state, graceful: outcome.graceful, message: outcome.message };
    });
  }

  /** Runs a command on the game's admin channel. */
  rcon(command: string, signal?: AbortSignal): Promise<string> {
    return runAdminCommand(this.#o.admin, this.server.name, command, signal);
  }

  hold(reason: string): () => void {
    const release = this.#machine.hold(reason);
    this.#log.debug({ reason }, 'held');
    return () => {
      if (release()) this.#log.debug({ reason }, 'released');
    };
  }

  async waitFor(state: ServerState, signal: AbortSignal): Promise<void> {
    while (this.state !== state) await once(this, SupervisorEvents.State, { signal });
  }

  // ---- process lifecycle -------------------------------------------------

  /** What start, restart and resumeAfterJob share: it should run now, with a fresh restart budget. */
  async #bringUp(reason: string): Promise<ServerState> {
    this.#machine.want('run');
    this.#recovery.reset();
    this.#message = undefined;
    if (!this.#handle) await this.#spawn(reason, 'stopped');
    this.#wakeUp();
    return this.state;
  }

  #attach(handle: ProcessHandle): void {
    this.#handle = handle;
    this.#machine.failures = 0;
    void handle.exited.then((info) => this.#onExit(handle, info)).catch((err: unknown) => this.#log.error({ err }, 'supervisor bug'));
  }

  async #spawn(reason: string, onFailure: 'stopped' | 'crashed'): Promise<void> {
    this.#transition('starting', reason);
    let handle: ProcessHandle;
    try {
      handle = await this.#launcher.spawn(this.server);
    } catch (err) {
      this.#transition(onFailure, `could not start: ${errorMessage(err)}`);
      throw err;
    }
    this.#attach(handle);
  }

  /** Runs the stop sequence; while the state is stopping, the process's exit is expected (ExitMeaning), not a crash. */
  async #stopProcess(handle: ProcessHandle, reason: string): Promise<StopOutcome> {
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
  }

  #detach(): void {
    this.#handle?.release();
    this.#handle = null;
    this.#machine.failures = 0;
    this.#resources = { ...unknownResources, diskFreeBytes: this.#resources.diskFreeBytes };
  }

  #onExit(handle: ProcessHandle, info: ExitInfo): void {
    if (handle !== this.#handle) return;
    this.#detach();
    const meaning = this.#machine.exitMeaning(this.managed);
    if (meaning.kind === 'expected') return; // the stop sequence moves the state itself
    const how = describeExit(info);
    if (meaning.kind === 'stopped') {
      this.#transition('stopped', meaning.heldBy.length ? `process exited while held by ${meaning.heldBy.join(', ')} (${how})` : `process exited (${how})`);
      return;
    }
    this.#transition('crashed', `process exited unexpectedly (${how})`);
    this.#alert('crashed', `${this.server.name} exited unexpectedly (${how})`);
    this.#recovery.onFailure('crash');
  }

  // ---- health loop ---------------------------------------------------------

  #wakeUp(): void {
    this.#loop?.wake();
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
      outcome = await queryHealth(this.#o.probe, handle?.isAlive() ?? null, this.#clock, this.server.config.health.queryTimeoutMs, this.#closing.signal);
      await this.#sampleResources(handle);
      // When something happened meanwhile (exit, stop, restart), the next tick judges afresh.
      if (!this.#closing.signal.aborted && handle === this.#handle && this.state === before) this.#judge(outcome, handle);
    }
    this.emit(SupervisorEvents.Health, {
      ok: outcome.ok, failures: this.#machine.failures, state: this.state, at: this.#iso(),
      ...(outcome.ok ? {} : { error: outcome.error }),
    });
    this.#emitStatus();
  }

  /** Applies one health check's verdict (health.ts decides). */
  #judge(outcome: QueryOutcome, handle: ProcessHandle | null): void {
    const h = this.server.config.health;
    const state = this.state;
    const v = judgeHealth({
      state, managed: this.managed, outcome,
      hasProcess: handle !== null,
      inGrace: state === 'starting' && handle !== null && this.#clock.now() - handle.startedAt < h.startGraceMs,
      failures: this.#machine.failures,
      failureLimit: h.failures,
    });
    this.#machine.failures = v.failures;
    if (outcome.ok && outcome.result) this.#lastQuery = outcome.result;
    if (v.to && v.reason) this.#transition(v.to, v.reason);
    if (v.alert === 'recovered') this.#alert('recovered', `${this.server.name} answers again`);
    if (v.alert === 'unresponsive') this.#alert('unresponsive', `${this.server.name} is not answering its status query (${v.failures} failures in a row) although its process runs`);
    if (v.hang) this.#recovery.onFailure('hang');
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

  #iso(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}
