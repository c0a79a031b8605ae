import type { Clock, Resources, ServerStatus } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Platform } from '../platform.ts';
import type { AdminChannel, ResolvedServer, StatusProbe } from '../types.ts';
import type { ResourceTarget } from '../monitors/resources.ts';
import type { Launcher } from './launcher.ts';
import type { IntentStore } from './intent.ts';
import { defaultRestartMessage } from './countdown.ts';

/**
 * Supervisor options: required ones first, then the optional ones whose
 * defaults live in DefaultSupervisorOptions (style.md §2). Health, restart and
 * stop timings come from the server config (agent.yaml), not from here.
 */
export interface SupervisorOptions {
  server: ResolvedServer;
  /** Null when the game has no usable status query: process liveness stands in for it. */
  probe: StatusProbe | null;
  admin: AdminChannel | null;
  platform: Platform;
  /** Agent data folder: game logs and pid files go below it (via the default launcher). */
  dataDir: string;
  /** Default: a ProcessLauncher on `platform` and `dataDir`. */
  launcher?: Launcher;
  /** Where the operator's word is kept across agent restarts. Default: an IntentFile below `dataDir`. */
  intent?: IntentStore;
  clock?: Clock;
  /** Give the supervisor's own child logger ({ serverId }); it is used as is. */
  logger?: Logger;
  /** The newest backup, for the status; owned by the backup engine. */
  lastBackup?: () => ServerStatus['lastBackup'];
  /** Resource sampler; default pidusage + statfs. */
  resources?: (target: ResourceTarget) => Promise<Resources>;
  /** Status is re-sent at least this often even when nothing changed. */
  statusHeartbeatMs?: number;
  /** Wait for the soft signal after the admin channel was tried. */
  softStopAfterAdminMs?: number;
  /** Wait after the hard kill. */
  killWaitMs?: number;
  /** A watched server with no known process is looked for (pid file / process name) at most this often. */
  adoptRetryMs?: number;
  /** Cap for one restart-warning broadcast. */
  broadcastTimeoutMs?: number;
  restartMessage?: (secondsLeft: number) => string;
  restartCancelledMessage?: string;
}

export const DefaultSupervisorOptions = {
  statusHeartbeatMs: 30_000,
  softStopAfterAdminMs: 10_000,
  killWaitMs: 10_000,
  broadcastTimeoutMs: 5_000,
  adoptRetryMs: 15_000,
  restartMessage: defaultRestartMessage,
  restartCancelledMessage: 'Server restart cancelled.',
} as const satisfies Partial<SupervisorOptions>;

/**
 * Who asks for a power action. The operator's word (an RPC from the hub) is kept
 * across agent restarts: an operator stop keeps the game down until an operator
 * starts or restarts it. The agent's own stops and starts (backup, update,
 * restore, scheduled restart) change nothing there.
 */
export interface PowerOptions {
  operator?: boolean;
}

export interface StopOptions extends PowerOptions {
  reason?: string;
}

export interface RestartOptions extends PowerOptions {
  /** Seconds before the restart at which players are warned, e.g. [300, 60, 10]. */
  warnAt?: readonly number[];
  /** Aborting during the countdown cancels the restart (CANCELLED); nothing is stopped. */
  signal?: AbortSignal;
  reason?: string;
}
