import { EventEmitter } from 'node:events';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { startA2sServer, startUdpPlaceholder } from './a2s.ts';
import { parseCommand, runCommand, type CommandEffects } from './commands.ts';
import type { CommandChannel, CommandLogEntry, Listener, SimContext, SimPorts } from './context.ts';
import { startControlServer } from './control.ts';
import { resolveSimOptions, toPlayer, type ResolvedSimOptions, type SimOptions, type SimPlayer, type SimPlayerInput } from './options.ts';
import { WorldWriter, type SaveOutcome } from './world.ts';
import { errorMessage } from '../lib/error-message.ts';

export type { CommandLogEntry, SimPorts } from './context.ts';
export type { SimOptions, SimPlayer, SimPlayerInput } from './options.ts';

export const SimEvents = {
  Command: 'command',
  Save: 'save',
  Broadcast: 'broadcast',
  Hang: 'hang',
  Resume: 'resume',
  Exit: 'exit',
} as const;

export interface SaveEvent extends SaveOutcome {
  /** Saves done by this sim so far, this one included. */
  saveCount: number;
  trigger: string;
}

export interface SimExit {
  /** Exit code for a CLI sim; null when it dies by `signal`. */
  code: number | null;
  signal: NodeJS.Signals | null;
  reason: string;
  /** True when the world was saved on the way out. */
  saved: boolean;
}

export interface SimEventsMap {
  command: [CommandLogEntry];
  save: [SaveEvent];
  broadcast: [{ message: string; channel: CommandChannel }];
  hang: [];
  resume: [];
  exit: [SimExit];
}

/** Injected behaviour: where console lines go (the CLI prints them to stderr). */
export interface SimDeps {
  log?: (line: string) => void;
}

/**
 * A simulated game server: the protocols of its game on loopback, a world on
 * disk, an admin command log, and fault knobs (hang, crash, slow save).
 * Start one with startSimServer(); `sim/main.ts` runs one as a process.
 */
export class SimServer extends EventEmitter<SimEventsMap> implements SimContext {
  readonly options: ResolvedSimOptions;
  readonly startedAt = Date.now();
  readonly world: WorldWriter;
  #ports: SimPorts = { game: 0, query: null, rcon: null, control: null };
  #listeners: Listener[] = [];
  #players: SimPlayer[];
  #commands: CommandLogEntry[] = [];
  #seq = 0;
  #saveCount = 0;
  #saveChain: Promise<unknown> = Promise.resolve();
  readonly #saveAbort = new AbortController();
  #saveDurationMs: number;
  #autosaveOn = true;
  #autosaveTimer: NodeJS.Timeout | null = null;
  #thaw: { promise: Promise<void>; resolve: () => void } | null = null;
  #stopping: Promise<SimExit> | null = null;
  #exit: SimExit | null = null;
  #closing = false;
  readonly #broadcastListeners = new Set<(message: string) => void>();
  readonly #log: (line: string) => void;

  /** Use startSimServer(); the constructor binds nothing. */
  constructor(options: ResolvedSimOptions, deps: SimDeps = {}) {
    super();
    this.options = { ...options };
    this.#players = [...options.players];
    this.#saveDurationMs = options.saveDurationMs;
    this.#log = deps.log ?? (() => undefined);
    this.world = new WorldWriter({
      game: options.game,
      dir: options.saveDir,
      vars: { world: options.world, map: options.map, playerIds: options.players.map((p) => p.id).concat('76561198000000001').slice(0, 2) },
      saveBytes: options.saveBytes,
    });
  }

  get ports(): SimPorts { return this.#ports; }
  get hung(): boolean { return this.#thaw !== null; }
  get generation(): number { return this.world.generation; }
  get saveCount(): number { return this.#saveCount; }
  /** Every admin command received, oldest first (the newest `commandMemory` entries). */
  get commands(): readonly CommandLogEntry[] { return this.#commands; }
  /** Set once the sim has exited (stop, crash or close). */
  get exited(): SimExit | null { return this.#exit; }
  get saveDurationMs(): number { return this.#saveDurationMs; }

  players(): SimPlayer[] {
    return [...this.#players];
  }

  /** Replace who is online; names already online keep their join time. */
  setPlayers(players: SimPlayerInput[], maxPlayers?: number): void {
    const now = Date.now();
    this.#players = players.map((p) => {
      const next = toPlayer(p, now);
      const had = this.#players.find((q) => q.name === next.name);
      return had && (typeof p === 'string' || p.joinedAt === undefined) ? { ...next, joinedAt: had.joinedAt } : next;
    });
    if (maxPlayers !== undefined) this.options.maxPlayers = maxPlayers;
  }

  /** Stop answering every game protocol (process alive, control channel still up). */
  hang(): void {
    if (this.#thaw || this.#exit) return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.#thaw = { promise, resolve };
    this.#log('hung: not answering queries or admin commands');
    this.emit(SimEvents.Hang);
  }

  resume(): void {
    const thaw = this.#thaw;
    if (!thaw) return;
    this.#thaw = null;
    thaw.resolve();
    this.#log('resumed');
    this.emit(SimEvents.Resume);
  }

  responsive(): Promise<void> {
    return this.#thaw?.promise ?? Promise.resolve();
  }

  /** Make later saves take this long, writing files gradually (0 = instant). */
  setSaveDuration(ms: number): void {
    this.#saveDurationMs = Math.max(0, Math.floor(ms));
  }

  /** Save now and wait until every file is written. Saves never overlap. */
  save(trigger = 'api'): Promise<SaveEvent> {
    const run = async (): Promise<SaveEvent> => {
      if (this.#exit) throw new Error('the sim has exited');
      const out = await this.world.save({ durationMs: this.#saveDurationMs, signal: this.#saveAbort.signal });
      this.#saveCount += 1;
      const ev: SaveEvent = { ...out, saveCount: this.#saveCount, trigger };
      this.#log(`saved world generation ${ev.generation} (${trigger}, ${ev.durationMs} ms)`);
      this.emit(SimEvents.Save, ev);
      return ev;
    };
    const p = this.#saveChain.then(run, run);
    this.#saveChain = p.catch(() => undefined);
    return p;
  }

  async saveAck(trigger: string): Promise<void> {
    const p = this.save(trigger);
    if (this.#saveDurationMs > 0) {
      p.catch((err: unknown) => this.#log(`save failed: ${errorMessage(err)}`));
      return;
    }
    await p;
  }

  exec(line: string, channel: CommandChannel, remote: string): Promise<string> {
    const parsed = parseCommand(this.options.game, line);
    this.record({ channel, command: line, action: parsed.action, args: parsed.args, remote });
    return runCommand(parsed, this.#effects(channel));
  }

  record(entry: Omit<CommandLogEntry, 'seq' | 'at'>): void {
    const full: CommandLogEntry = { seq: ++this.#seq, at: new Date().toISOString(), ...entry };
    this.#commands.push(full);
    if (this.#commands.length > this.options.commandMemory) this.#commands.shift();
    if (this.options.commandLog) {
      try {
        appendFileSync(this.options.commandLog, `${JSON.stringify(full)}\n`);
      } catch (err) {
        this.#log(`command log: ${errorMessage(err)}`);
      }
    }
    this.emit(SimEvents.Command, full);
  }

  broadcast(message: string, channel: CommandChannel): void {
    this.#log(`broadcast: ${message}`);
    for (const l of this.#broadcastListeners) l(message);
    this.emit(SimEvents.Broadcast, { message, channel });
  }

  onBroadcast(listener: (message: string) => void): () => void {
    this.#broadcastListeners.add(listener);
    return () => this.#broadcastListeners.delete(listener);
  }

  requestStop(reason: string, delayMs = 0, save = true): void {
    if (this.#stopping || this.#exit) return;
    // A timer, not a microtask: the reply to the stop command is written first.
    setTimeout(() => {
      if (save) void this.stop(reason);
      else void this.#shutdown({ code: 0, signal: null, reason, saved: false }, this.options.closeGraceMs);
    }, Math.max(1, delayMs));
  }

  /** Graceful stop, as on the game's stop command or Ctrl+C: save, close every port, exit 0. */
  stop(reason = 'stop'): Promise<SimExit> {
    if (this.#exit) return Promise.resolve(this.#exit);
    this.#stopping ??= (async () => {
      this.#log(`stopping (${reason}): saving first`);
      let saved = true;
      await this.save('stop').catch((err: unknown) => {
        saved = false;
        this.#log(`save on stop failed: ${errorMessage(err)}`);
      });
      return this.#shutdown({ code: 0, signal: null, reason, saved }, this.options.closeGraceMs);
    })();
    return this.#stopping;
  }

  /** Die at once without saving: a half-written save stays on disk. Code or signal for the CLI's exit. */
  crash(codeOrSignal: number | NodeJS.Signals = 1): void {
    if (this.#exit) return;
    this.#saveAbort.abort(new Error('crashed'));
    const exit: SimExit = typeof codeOrSignal === 'number'
      ? { code: codeOrSignal, signal: null, reason: 'crash', saved: false }
      : { code: null, signal: codeOrSignal, reason: 'crash', saved: false };
    this.#log(`crashing (${codeOrSignal})`);
    // Exit is announced first so a CLI sim dies before any socket closes politely.
    void this.#shutdown(exit, 0, true);
  }

  /** Tear down without saving (tests' cleanup). Emits exit with reason "closed" if still running. */
  async close(): Promise<void> {
    this.#saveAbort.abort(new Error('closed'));
    await this.#shutdown({ code: 0, signal: null, reason: 'closed', saved: false }, 0);
  }

  /** Resolves with the first command (from seq `after` on) that matches. */
  waitForCommand(match: (c: CommandLogEntry) => boolean, opts: { signal: AbortSignal; after?: number }): Promise<CommandLogEntry> {
    const found = this.#commands.find((c) => c.seq > (opts.after ?? 0) && match(c));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onCommand = (c: CommandLogEntry) => {
        if (!match(c)) return;
        cleanup();
        resolve(c);
      };
      const onAbort = () => {
        cleanup();
        reject(opts.signal.reason);
      };
      const cleanup = () => {
        this.off(SimEvents.Command, onCommand);
        opts.signal.removeEventListener('abort', onAbort);
      };
      if (opts.signal.aborted) return onAbort();
      this.on(SimEvents.Command, onCommand);
      opts.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Files under the save dir, relative and sorted (the game's own backups included). */
  worldFiles(): Promise<string[]> {
    return this.world.listFiles();
  }

  snapshot() {
    return {
      game: this.options.game, pid: process.pid, ports: this.#ports, hung: this.hung, exited: this.#exit,
      players: this.players(), maxPlayers: this.options.maxPlayers, generation: this.generation,
      saveCount: this.#saveCount, saveDurationMs: this.#saveDurationMs, commands: this.#seq,
      saveDir: this.options.saveDir,
    };
  }

  log(line: string): void {
    this.#log(line);
  }

  /** Internal: called once by startSimServer. */
  async listen(): Promise<void> {
    const { host, ports } = this.options;
    const g = this.options.profile;
    const open = async (start: () => Promise<Listener>, what: string, port: number): Promise<Listener> => {
      try {
        const l = await start();
        this.#listeners.push(l);
        return l;
      } catch (err) {
        throw new Error(`sim ${this.options.game}: cannot bind ${what} port ${port} on ${host}: ${errorMessage(err)}`, { cause: err });
      }
    };
    if (g.a2s?.onGamePort) {
      const port = ports.game || ports.query;
      const l = await open(() => startA2sServer(this, { host, port, gamePort: 0 }), 'game (A2S)', port);
      this.#ports = { ...this.#ports, game: l.port, query: l.port };
    } else if (g.serverListPing) {
      const { startServerListPing } = await import('./slp.ts');
      const l = await open(() => startServerListPing(this, host, ports.game), 'game (Server List Ping)', ports.game);
      this.#ports = { ...this.#ports, game: l.port, query: l.port };
    } else {
      const l = await open(() => startUdpPlaceholder(host, ports.game), 'game', ports.game);
      this.#ports = { ...this.#ports, game: l.port };
    }
    if (g.a2s && !g.a2s.onGamePort) {
      const l = await open(() => startA2sServer(this, { host, port: ports.query, gamePort: this.#ports.game }), 'query (A2S)', ports.query);
      this.#ports = { ...this.#ports, query: l.port };
    }
    const admin = await adminStarter(g.admin);
    if (admin) {
      const l = await open(() => admin(this, host, ports.rcon), `admin (${g.admin})`, ports.rcon);
      this.#ports = { ...this.#ports, rcon: l.port };
    }
    if (ports.control !== null) {
      const l = await open(() => startControlServer(this, host, ports.control ?? 0), 'control', ports.control);
      this.#ports = { ...this.#ports, control: l.port };
    }
    if (this.options.autosaveMs > 0) {
      this.#autosaveTimer = setInterval(() => {
        if (this.hung || !this.#autosaveOn || this.#stopping || this.#exit) return;
        this.save('autosave').catch((err: unknown) => this.#log(`autosave failed: ${errorMessage(err)}`));
      }, this.options.autosaveMs);
      this.#autosaveTimer.unref();
    }
  }

  #effects(channel: CommandChannel): CommandEffects {
    const o = this.options;
    const self = this;
    return {
      game: o.game, serverName: o.serverName, map: o.map, version: o.version, maxPlayers: o.maxPlayers, startedAt: this.startedAt,
      players: () => this.players(),
      get slowSave() { return self.#saveDurationMs > 0; },
      save: async () => { await this.save(`${channel} command`); },
      setAutosave: (on) => { this.#autosaveOn = on; },
      broadcast: (m) => this.broadcast(m, channel),
      requestStop: (r) => this.requestStop(`${r} (${channel})`),
    };
  }

  async #shutdown(exit: SimExit, graceMs: number, announceFirst = false): Promise<SimExit> {
    if (this.#exit || this.#closing) return this.#exit ?? exit;
    this.#closing = true;
    if (this.#autosaveTimer) clearInterval(this.#autosaveTimer);
    if (announceFirst) this.#finish(exit);
    // Thaw a hung sim so queued handlers finish instead of waiting forever.
    this.#thaw?.resolve();
    await Promise.all(this.#listeners.map((l) => l.close(graceMs).catch(() => undefined)));
    this.#listeners = [];
    if (!announceFirst) this.#finish(exit);
    return exit;
  }

  #finish(exit: SimExit): void {
    this.#exit = exit;
    this.#log(`exit (${exit.reason}, code ${exit.code ?? exit.signal})`);
    this.emit(SimEvents.Exit, exit);
  }
}

type AdminStarter = (ctx: SimContext, host: string, port: number) => Promise<Listener>;

/** Loaded on demand: a sim only pays for the protocol its game speaks (ws is not loaded for ARK). */
async function adminStarter(kind: ResolvedSimOptions['profile']['admin']): Promise<AdminStarter | null> {
  switch (kind) {
    case 'source-rcon': return (await import('./rcon.ts')).startRconServer;
    case 'webrcon': return (await import('./webrcon.ts')).startWebRconServer;
    case 'telnet': return (await import('./telnet.ts')).startTelnetServer;
    case 'palworld-rest': return (await import('./rest.ts')).startPalworldRest;
    case 'none': return null;
  }
}

/**
 * Starts a simulated game server: writes (or loads) the world, binds the
 * game's protocols on loopback and resolves once every port answers.
 */
export async function startSimServer(options: SimOptions, deps: SimDeps = {}): Promise<SimServer> {
  const resolved = resolveSimOptions(options);
  if (resolved.commandLog) mkdirSync(path.dirname(resolved.commandLog), { recursive: true });
  const sim = new SimServer(resolved, deps);
  await sim.world.init();
  try {
    await sim.listen();
  } catch (err) {
    await sim.close();
    throw err;
  }
  return sim;
}
