/** Types and helpers shared by the per-OS parts of agent/platform.ts. */

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs an external command (taskkill, tasklist, a Ctrl+C helper). Never rejects on a non-zero exit. */
export type CommandRunner = (file: string, args: readonly string[], opts?: { timeoutMs?: number; signal?: AbortSignal; env?: Record<string, string> }) => Promise<CommandResult>;

/** Runs a short command synchronously (where the caller's API is synchronous); null when it failed or could not run. */
export type SyncCommandRunner = (file: string, args: readonly string[], timeoutMs: number) => string | null;

/** `process.kill` shape, injectable so liveness checks can be faked for the Windows branch. */
export type KillFn = (pid: number, signal?: NodeJS.Signals | number) => boolean;

export interface SoftStopResult {
  /** False: this platform has no graceful signal for the process; the caller must hard-kill (and say so). */
  supported: boolean;
  /** How the stop was asked (e.g. "SIGINT"), or why it is not possible. */
  message: string;
}

export interface ProcessMatch {
  pid: number;
  /** The matched name as the OS reports it. */
  name: string;
}

/** The part each OS implements; createPlatform adds the shared bits. */
export interface OsOps {
  canSoftStop: boolean;
  softStop(pid: number): Promise<SoftStopResult>;
  hardKill(pid: number): Promise<void>;
  isAlive(pid: number): boolean;
  findProcessByName(names: readonly string[]): Promise<ProcessMatch[]>;
  /** An opaque token for when the process started (same pid + same token = same process), or null when unknown. */
  processStartTime(pid: number): string | null;
}

/** process.kill(pid, 0) semantics shared by both OSes: EPERM means it exists but is not ours. */
export function probeAlive(kill: KillFn, pid: number): boolean {
  try {
    kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
