import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadExeca } from '../../lib/execa-lazy.ts';
import type { Logger } from '../../lib/logger.ts';
import { silentLogger } from '../../lib/logger.ts';
import { ReconSyncError } from '../../protocol/index.ts';
import { redactSecrets } from '../../lib/rclone-redact.ts';
import { sortNewestFirst, type Destination } from './destination.ts';
import { archiveFileName, manifestFileName, parseManifest, serializeManifest, type Manifest } from './manifest.ts';
import { stripUndefined } from '../../lib/strip-undefined.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * Any rclone remote or path, driven through the external `rclone` binary
 * (its own config file, its own credentials). Backups of a server live in
 * `<target>/<serverId>/` so several servers can share one remote path.
 */

export interface RcloneSettings {
  binary: string;
  /** rclone.conf to use; unset = rclone's own default. */
  config?: string | undefined;
  /** Per rclone invocation. */
  timeoutMs: number;
}

export const DefaultRcloneSettings = { binary: 'rclone', timeoutMs: 600_000 } satisfies RcloneSettings;

/** rclone exit codes we act on (rclone docs, "Exit code"). */
const EXIT_DIR_NOT_FOUND = 3;
const EXIT_FILE_NOT_FOUND = 4;
const LIST_CONCURRENCY = 4;

export { redactSecrets };

/** `remote:` + id → `remote:id`; `remote:a/b/` → `remote:a/b/id`; `/mnt/x` → `/mnt/x/id`. */
export function joinRemote(target: string, child: string): string {
  if (target.endsWith(':')) return `${target}${child}`;
  return `${target.replace(/[\\/]+$/, '')}/${child}`;
}

interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class RcloneDestination implements Destination {
  readonly target: string;
  readonly #base: string;
  readonly #settings: RcloneSettings;
  readonly #logger: Logger;
  readonly #tmpDir: string;

  constructor(opts: { target: string; serverId: string; rclone: Partial<RcloneSettings>; tmpDir?: string; logger?: Logger }) {
    this.target = opts.target;
    this.#base = joinRemote(opts.target, opts.serverId);
    this.#settings = { ...DefaultRcloneSettings, ...stripUndefined(opts.rclone) };
    this.#logger = opts.logger ?? silentLogger;
    this.#tmpDir = opts.tmpDir ?? os.tmpdir();
  }

  async put(localArchive: string, manifest: Manifest, signal?: AbortSignal): Promise<void> {
    await this.#run(['copyto', localArchive, this.#remote(archiveFileName(manifest.id, manifest.archive.format))], signal);
    await this.putManifest(manifest, signal);
  }

  async putManifest(manifest: Manifest, signal?: AbortSignal): Promise<void> {
    await fs.mkdir(this.#tmpDir, { recursive: true });
    const dir = await fs.mkdtemp(path.join(this.#tmpDir, 'rclone-manifest-'));
    try {
      const file = path.join(dir, manifestFileName(manifest.id));
      await fs.writeFile(file, serializeManifest(manifest));
      await this.#run(['copyto', file, this.#remote(manifestFileName(manifest.id))], signal);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  async verify(id: string, expected: { size: number; sha256: string }, signal?: AbortSignal): Promise<boolean> {
    const r = await this.#run(['lsjson', '--files-only', '--hash', '--hash-type', 'sha256', this.#base], signal, [EXIT_DIR_NOT_FOUND]);
    if (r.exitCode !== 0) return false;
    const names = new Set([archiveFileName(id, 'tar.zst'), archiveFileName(id, 'tar.gz')]);
    const entries = JSON.parse(r.stdout || '[]') as Array<{ Name: string; Size: number; Hashes?: Record<string, string> }>;
    const entry = entries.find((e) => names.has(e.Name));
    if (!entry || entry.Size !== expected.size) return false;
    const remoteHash = entry.Hashes?.sha256;
    if (remoteHash) return remoteHash.toLowerCase() === expected.sha256;
    // The backend cannot hash: read the object back and hash it here.
    return (await this.#hashRemote(entry.Name, signal)) === expected.sha256;
  }

  async list(signal?: AbortSignal): Promise<Manifest[]> {
    const names = await this.#fileNames(signal);
    const present = new Set(names);
    const wanted = names.filter((n) => n.endsWith('.manifest.json'));
    const out: Manifest[] = [];
    for (let i = 0; i < wanted.length; i += LIST_CONCURRENCY) {
      const batch = await Promise.all(wanted.slice(i, i + LIST_CONCURRENCY).map(async (name) => {
        try {
          const r = await this.#run(['cat', this.#remote(name)], signal);
          const m = parseManifest(r.stdout, `${this.displayTarget()}/${name}`);
          return present.has(archiveFileName(m.id, m.archive.format)) ? m : null;
        } catch (err) {
          if (signal?.aborted) throw err;
          this.#logger.warn({ err, target: this.displayTarget(), file: name }, 'skipping unreadable backup manifest');
          return null;
        }
      }));
      for (const m of batch) if (m) out.push(m);
    }
    return sortNewestFirst(out);
  }

  async get(id: string, toDir: string, signal?: AbortSignal): Promise<{ archivePath: string; manifest: Manifest }> {
    const r = await this.#run(['cat', this.#remote(manifestFileName(id))], signal, [EXIT_DIR_NOT_FOUND, EXIT_FILE_NOT_FOUND]);
    if (r.exitCode !== 0) throw new ReconSyncError('UNKNOWN_BACKUP', `backup ${id} is not on ${this.displayTarget()}`);
    const manifest = parseManifest(r.stdout, `${this.displayTarget()}/${manifestFileName(id)}`);
    await fs.mkdir(toDir, { recursive: true });
    const name = archiveFileName(id, manifest.archive.format);
    const archivePath = path.join(toDir, name);
    await this.#run(['copyto', this.#remote(name), archivePath], signal);
    return { archivePath, manifest };
  }

  async remove(id: string, signal?: AbortSignal): Promise<void> {
    const present = new Set(await this.#fileNames(signal));
    // Manifest first: a crash in between leaves an unlisted archive, never a listed backup without data.
    for (const name of [manifestFileName(id), archiveFileName(id, 'tar.zst'), archiveFileName(id, 'tar.gz')]) {
      if (present.has(name)) await this.#run(['deletefile', this.#remote(name)], signal, [EXIT_FILE_NOT_FOUND]);
    }
  }

  /** The target without credentials, for messages and logs. */
  displayTarget(): string {
    return redactSecrets(this.target);
  }

  #remote(name: string): string {
    return `${this.#base}/${name}`;
  }

  async #fileNames(signal?: AbortSignal): Promise<string[]> {
    const r = await this.#run(['lsf', '--files-only', this.#base], signal, [EXIT_DIR_NOT_FOUND]);
    if (r.exitCode !== 0) return [];
    return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  }

  async #hashRemote(name: string, signal?: AbortSignal): Promise<string> {
    const hash = createHash('sha256');
    const execa = await loadExeca();
    const proc = execa(this.#settings.binary, [...this.#commonArgs(), 'cat', this.#remote(name)], {
      buffer: { stdout: false, stderr: true },
      reject: false,
      timeout: this.#settings.timeoutMs,
      ...(signal ? { cancelSignal: signal } : {}),
    });
    try {
      for await (const chunk of proc.iterable({ binary: true })) hash.update(chunk);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new ReconSyncError('BACKUP_FAILED', `rclone cat on ${this.displayTarget()} failed: ${redactSecrets(errorMessage(err))}`);
    }
    const r = await proc;
    if (r.exitCode !== 0) throw this.#failure(['cat', name], r.exitCode, String(r.stderr ?? ''), r.timedOut);
    return hash.digest('hex');
  }

  #commonArgs(): string[] {
    const args = ['--retries', '1', '--low-level-retries', '3', '--ask-password=false'];
    if (this.#settings.config) args.unshift('--config', this.#settings.config);
    return args;
  }

  /** Runs rclone; non-zero exit codes not in `allowed` throw with rclone's own words (secrets stripped). */
  async #run(args: string[], signal?: AbortSignal, allowed: number[] = []): Promise<RunResult> {
    signal?.throwIfAborted();
    let r;
    try {
      const execa = await loadExeca();
      r = await execa(this.#settings.binary, [...this.#commonArgs(), ...args], {
        reject: false,
        timeout: this.#settings.timeoutMs,
        stripFinalNewline: false,
        ...(signal ? { cancelSignal: signal } : {}),
      });
    } catch (err) {
      // execa's messages repeat the whole command line, remote string included.
      throw new ReconSyncError('BACKUP_FAILED', `could not run rclone (${this.#settings.binary}): ${redactSecrets(errorMessage(err))}`);
    }
    if (r.isCanceled) throw signal?.reason ?? new ReconSyncError('CANCELLED');
    if (r.failed && r.exitCode === undefined && !r.timedOut) {
      const code = (r as unknown as { code?: string }).code;
      const hint = code === 'ENOENT' ? `rclone not found at "${this.#settings.binary}"; install rclone or set rclone.binary in agent.yaml` : redactSecrets(r.shortMessage ?? 'rclone failed to run');
      throw new ReconSyncError('BACKUP_FAILED', hint);
    }
    const exitCode = r.exitCode ?? -1;
    if (exitCode !== 0 && !allowed.includes(exitCode)) throw this.#failure(args, exitCode, String(r.stderr), r.timedOut);
    return { exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  #failure(args: string[], exitCode: number | undefined, stderr: string, timedOut: boolean): ReconSyncError {
    const what = `rclone ${args[0]} on ${this.displayTarget()}`;
    if (timedOut) return new ReconSyncError('BACKUP_FAILED', `${what} timed out after ${Math.round(this.#settings.timeoutMs / 1000)} s; check the remote's reachability or raise rclone.timeoutMs`);
    const lines = redactSecrets(stderr).split('\n').map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '').trim()).filter(Boolean);
    const detail = lines.slice(-3).join(' | ').slice(0, 1000) || 'no error output';
    return new ReconSyncError('BACKUP_FAILED', `${what} failed (exit ${exitCode ?? '?'}): ${detail}`);
  }
}
