import type { ResolvedSimOptions, SimPlayer } from './options.ts';

/** The channel an admin command arrived on. */
export type CommandChannel = 'rcon' | 'webrcon' | 'telnet' | 'rest' | 'control';

/** One line of the admin command log (memory and JSON-lines file). */
export interface CommandLogEntry {
  /** 1, 2, 3... in order of arrival. */
  seq: number;
  /** ISO time of arrival. */
  at: string;
  channel: CommandChannel;
  /** The command as received: an RCON line, or `POST /v1/api/save` for REST. */
  command: string;
  /** What it means to the sim: save, broadcast, stop, players, ... or unknown. */
  action: string;
  /** The argument text (broadcast message, echo text), unquoted. */
  args: string;
  /** The peer address, `ip:port`. */
  remote: string;
}

/** A listening protocol endpoint the sim owns. */
export interface Listener {
  readonly port: number;
  /** Stop accepting; give open connections graceMs to drain, then destroy them. */
  close(graceMs: number): Promise<void>;
}

/**
 * What the protocol modules may ask of the running sim. They never see the
 * SimServer class itself, so each stays a thin codec plus transport.
 */
/** The ports a sim bound; null where the game has no such endpoint. */
export interface SimPorts {
  /** The game port (UDP placeholder, or the A2S / Server List Ping port where the game answers there). */
  game: number;
  /** Where the status query answers (A2S UDP, or the SLP TCP port for Minecraft); null = no query. */
  query: number | null;
  /** The admin channel: RCON, WebRCON, telnet or REST (TCP); null = none. */
  rcon: number | null;
  /** The fault-injection HTTP channel; null = not opened. */
  control: number | null;
}

export interface SimContext {
  readonly options: ResolvedSimOptions;
  readonly ports: SimPorts;
  readonly startedAt: number;
  readonly hung: boolean;
  readonly generation: number;
  readonly saveCount: number;
  players(): SimPlayer[];
  /** Resolves at once unless hung; then when resumed. A frozen game answers its backlog when it thaws. */
  responsive(): Promise<void>;
  /** Logs and runs one admin command line; resolves with the game's text output. */
  exec(line: string, channel: CommandChannel, remote: string): Promise<string>;
  /** Logs a command that did not come as a text line (REST calls). */
  record(entry: Omit<CommandLogEntry, 'seq' | 'at'>): void;
  /** Save now; resolves when the game acknowledges (at once for a slow save, else when written). */
  saveAck(trigger: string): Promise<void>;
  broadcast(message: string, channel: CommandChannel): void;
  /** Save and exit after delayMs (after the reply went out). */
  requestStop(reason: string, delayMs?: number, save?: boolean): void;
  /** Called with every broadcast, for channels that echo chat to their clients (WebRCON). */
  onBroadcast(listener: (message: string) => void): () => void;
  log(line: string): void;
}
