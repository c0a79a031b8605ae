import os from 'node:os';
import { loadExeca } from '../../lib/execa-lazy.ts';
import { z } from 'zod';
import type { Logger } from '../../lib/logger.ts';
import { silentLogger } from '../../lib/logger.ts';
import { ReconSyncError } from '../../protocol/index.ts';
import { redactSecrets } from '../../lib/rclone-redact.ts';
import { safeParse } from '../../protocol/safe-parse.ts';
import { stripUndefined } from '../../lib/strip-undefined.ts';

/**
 * The external `restic` binary for one repository, run without a shell. The
 * password reaches restic only through its environment (RESTIC_PASSWORD),
 * never the command line, a log line or an error message; the repository is
 * passed the same way so a credential inside it stays out of `ps` too.
 */

export interface ResticSettings {
  binary: string;
  /** Per restic invocation. */
  timeoutMs: number;
  /** rclone.conf for `rclone:` repositories (restic starts rclone itself, which reads RCLONE_CONFIG). */
  rcloneConfig?: string | undefined;
  /** restic's cache; default: restic's own (~/.cache/restic). */
  cacheDir?: string | undefined;
}

export const DefaultResticSettings = { binary: 'restic', timeoutMs: 3_600_000 } satisfies ResticSettings;

/** A lock file as `restic cat lock` prints it. */
const LockSchema = z.object({ hostname: z.string(), pid: z.number().int(), exclusive: z.boolean().optional(), time: z.string().optional() });

export interface RunOptions {
  signal?: AbortSignal | undefined;
  cwd?: string | undefined;
  /** Each JSON line restic prints on stdout (with --json). */
  onJson?: ((line: unknown) => void) | undefined;
  /** Exit codes that are answers, not failures. */
  allowed?: number[];
}

export interface RunResult { exitCode: number; stdout: string; stderr: string }

/** Hints for restic's own words, so the operator knows what to do. */
const HINTS: Array<[RegExp, string]> = [
  [/wrong password|no key found/i, 'the repository password is wrong; check the destination\'s password (e.g. ${RESTIC_PASSWORD})'],
  [/ciphertext verification failed|pack .* (contains|does not match)|invalid data returned|hash does not match|unexpected EOF/i, 'the repository is damaged (a pack file does not match its checksum); run `restic check --read-data` and restore from another destination'],
  [/repository is already locked/i, 'another restic process holds the repository; wait for it, or remove a stale lock with `restic unlock`'],
];

export class ResticRepo {
  readonly display: string;
  readonly #settings: ResticSettings;
  readonly #logger: Logger;
  #ready = false;
  readonly #repository: string;
  readonly #password: string;

  constructor(repository: string, password: string, settings: Partial<ResticSettings> = {}, logger: Logger = silentLogger) {
    this.#repository = repository;
    this.#password = password;
    this.#settings = { ...DefaultResticSettings, ...stripUndefined(settings) };
    this.display = redactSecrets(repository);
    this.#logger = logger;
  }

  /** The environment restic runs with: the caller's, minus any other RESTIC_* source of a password or repository. */
  #env(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('RESTIC_')) env[k] = v;
    env.RESTIC_PASSWORD = this.#password;
    env.RESTIC_REPOSITORY = this.#repository;
    if (this.#settings.rcloneConfig) env.RCLONE_CONFIG = this.#settings.rcloneConfig;
    if (this.#settings.cacheDir) env.RESTIC_CACHE_DIR = this.#settings.cacheDir;
    // Without a terminal restic prints its status only at the end; progress events want a few a second.
    env.RESTIC_PROGRESS_FPS = '2';
    return env;
  }

  /** Runs restic; non-zero exit codes not in `allowed` throw with restic's own last words (password never in them). */
  async run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    opts.signal?.throwIfAborted();
    const execa = await loadExeca();
    const proc = execa(this.#settings.binary, args, {
      env: this.#env(), extendEnv: false, reject: false, timeout: this.#settings.timeoutMs, stdin: 'ignore',
      // restic ends its lock refresh and removes its lock on SIGTERM; SIGKILL would leave a stale lock.
      killSignal: 'SIGTERM', forceKillAfterDelay: 10_000,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.signal ? { cancelSignal: opts.signal } : {}),
    });
    if (opts.onJson && proc.stdout) {
      let rest = '';
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.startsWith('{')) continue;
          try {
            opts.onJson!(JSON.parse(line));
          } catch {
            // restic mixes a few plain lines into --json output; they carry nothing we need.
          }
        }
      });
    }
    const r = await proc;
    if (r.isCanceled) throw opts.signal?.reason ?? new ReconSyncError('CANCELLED');
    const stderr = this.#scrub(String(r.stderr ?? ''));
    if (r.exitCode === undefined && !r.timedOut) {
      const code = (r as unknown as { code?: string }).code;
      throw new ReconSyncError('BACKUP_FAILED', code === 'ENOENT'
        ? `restic not found at "${this.#settings.binary}"; install restic (apt install restic, or restic.net) or set restic.path in agent.yaml`
        : `could not run restic: ${this.#scrub(r.shortMessage ?? 'unknown error')}`);
    }
    const exitCode = r.exitCode ?? -1;
    if (exitCode !== 0 && !(opts.allowed ?? []).includes(exitCode)) throw this.failure(args[0] ?? '', exitCode, stderr, r.timedOut);
    return { exitCode, stdout: String(r.stdout ?? ''), stderr };
  }

  /** Repository opened (initialised with compression on first use) and stale locks of this host removed. */
  async prepare(signal?: AbortSignal): Promise<void> {
    if (!this.#ready) {
      const probe = await this.run(['cat', 'config', '--no-lock'], { signal, allowed: [1] });
      if (probe.exitCode !== 0) {
        if (!/unable to open config file|Is there a repository/i.test(probe.stderr)) throw this.failure('cat', probe.exitCode, probe.stderr, false);
        // Repository format 2 is the one with compression.
        const init = await this.run(['init', '--repository-version', '2'], { signal, allowed: [1] });
        if (init.exitCode !== 0 && !/already (exists|initialized)/i.test(init.stderr)) throw this.failure('init', init.exitCode, init.stderr, false);
        if (init.exitCode === 0) this.#logger.info({ repository: this.display }, 'initialised a new restic repository');
      }
      this.#ready = true;
    }
    await this.removeStaleLocks(signal);
  }

  /**
   * Locks left by a restic of this host whose process is gone (an agent killed
   * mid-backup): those, and only those, are removed with `restic unlock`.
   * Locks of other hosts and of live processes are left alone. Returns how many stale locks were found.
   */
  async removeStaleLocks(signal?: AbortSignal): Promise<number> {
    const ids = (await this.run(['list', 'locks', '--no-lock'], { signal })).stdout.split('\n').map((l) => l.trim()).filter((l) => /^[0-9a-f]{64}$/.test(l));
    const host = os.hostname();
    let stale = 0;
    for (const lockId of ids) {
      const r = await this.run(['cat', 'lock', lockId, '--no-lock'], { signal, allowed: [1] });
      if (r.exitCode !== 0) continue; // removed meanwhile by its owner
      const lock = safeParse(LockSchema, parseJson(r.stdout));
      if (!lock.success) continue;
      if (lock.data.hostname === host && !processAlive(lock.data.pid)) stale++;
    }
    if (stale > 0) {
      // Without --remove-all restic removes only stale locks (its own test is the same: this host and a dead pid, or not refreshed for 30 min).
      await this.run(['unlock'], { signal });
      this.#logger.warn({ repository: this.display, locks: stale }, 'removed stale restic locks left by a process that is gone');
    }
    return stale;
  }

  #scrub(text: string): string {
    return redactSecrets(this.#password ? text.split(this.#password).join('[REDACTED]') : text);
  }

  failure(what: string, exitCode: number, stderr: string, timedOut: boolean): ReconSyncError {
    const head = `restic ${what} on ${this.display}`;
    if (timedOut) return new ReconSyncError('BACKUP_FAILED', `${head} timed out after ${Math.round(this.#settings.timeoutMs / 1000)} s; raise restic.timeoutMs or check the repository's reachability`);
    const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
    const detail = lines.slice(-4).join(' | ').slice(0, 1200) || 'no error output';
    const hint = HINTS.find(([re]) => re.test(stderr))?.[1];
    return new ReconSyncError('BACKUP_FAILED', `${head} failed (exit ${exitCode}): ${detail}${hint ? `; ${hint}` : ''}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** True unless the pid certainly has no process (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
