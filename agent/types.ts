import type { Players, ServerState } from '../protocol/index.ts';
import type { ServerConfig } from './config.ts';
import type { GameProfile } from '../games/profile.ts';

/**
 * A server config merged with its game profile for the platform the agent
 * runs on: every path absolute, every port known. Made once by
 * agent/resolve-server.ts; the supervisor, monitors and backup engine only read it.
 */
export interface ResolvedServer {
  id: string;
  name: string;
  config: ServerConfig;
  profile: GameProfile;
  platform: 'linux' | 'windows';
  query: { kind: GameProfile['query']['kind']; gamedigType?: string; host: string; port: number; playersFromKeywords: boolean };
  admin: { kind: GameProfile['admin']['kind']; host: string; port: number | null; password: string | null; dialect?: 'srcds' | 'minecraft' | 'ark'; insecureTls: boolean };
  /** Absolute save roots (folders or files). */
  savePaths: string[];
  include: string[];
  exclude: string[];
  sqlite: string[];
  processNames: string[];
  /** Spawn line when managed; null = watch only. */
  start: { command: string; args: string[]; cwd: string | undefined; env: Record<string, string> } | null;
  managed: boolean;
}

export interface QueryResult {
  players: Players;
  map: string | null;
  version: string | null;
}

/** Asks the game how it is doing. Rejects when the game does not answer. */
export interface StatusProbe {
  query(signal?: AbortSignal): Promise<QueryResult>;
}

/** The game's own admin channel (RCON, WebRCON, telnet, REST). */
export interface AdminChannel {
  readonly kind: ResolvedServer['admin']['kind'];
  exec(command: string, signal?: AbortSignal): Promise<string>;
  /** Ask the game to write its world to disk now; resolves when the game acknowledged. */
  save(signal?: AbortSignal): Promise<void>;
  broadcast(message: string, signal?: AbortSignal): Promise<void>;
  /** Ask the game to save and exit. */
  stop(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** What resumeAfterJob did: started the game, or left it stopped and says why (for the job's outcome). */
export type ResumeOutcome = { started: true; state: ServerState } | { started: false; state: ServerState; message: string };

/** What the backup engine and the RPC handlers need from a server's supervisor. */
export interface ServerControl {
  readonly state: ServerState;
  readonly managed: boolean;
  /**
   * A job (backup, restore, update) that stopped the game starts it again. There is no plain
   * start here: the supervisor leaves the game stopped when an operator stopped it meanwhile.
   */
  resumeAfterJob(job: string): Promise<ResumeOutcome>;
  stop(opts?: { reason?: string }): Promise<{ graceful: boolean; message?: string }>;
  /** Resolves when the state is reached; rejects on the signal. */
  waitFor(state: ServerState, signal: AbortSignal): Promise<void>;
  /** While held, the supervisor does not treat a stop as a crash or restart the game. */
  hold(reason: string): () => void;
  /**
   * False when a stop could only be a hard kill (Windows without the service wrapper's Ctrl+C
   * and no admin channel), losing what the game did not save yet. Absent: a graceful stop is possible.
   */
  readonly canStopGracefully?: boolean;
}
