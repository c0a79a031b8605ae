import path from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { ReconSyncError } from '../../protocol/index.ts';
import { RESTIC_PREFIX, targetOf, type ResticDestinationConfig } from '../config.ts';
import type { ResolvedServer } from '../types.ts';
import type { ZstdPool } from './compress.ts';
import { LOCAL_TARGET, type Destination } from './destination.ts';
import { LocalDestination } from './local.ts';
import { DefaultRcloneSettings, RcloneDestination, redactSecrets, type RcloneSettings } from './rclone.ts';
import { ResticDestination } from './restic.ts';
import type { ResticSettings } from './restic-runner.ts';

/**
 * Picks the Destination for a configured target (style.md §5: the pipeline
 * only ever sees the interface): "local" and folder paths → LocalDestination,
 * `restic:` → ResticDestination, anything else is an rclone remote.
 */

export interface DestinationDeps {
  dataDir: string;
  tmpDir: string;
  logger: Logger;
  rclone?: Partial<RcloneSettings> | undefined;
  restic?: Partial<ResticSettings> | undefined;
  /** restic unpacks the archive to snapshot its files: it shares the engine's zstd workers. */
  pool: () => ZstdPool;
}

export function makeDestination(d: DestinationDeps, target: string, server: ResolvedServer): Destination {
  if (target === LOCAL_TARGET) return new LocalDestination({ dataDir: d.dataDir, serverId: server.id, logger: d.logger }) satisfies Destination;
  if (target.startsWith(RESTIC_PREFIX)) {
    const cfg = server.config.backup.destinations.find((c): c is ResticDestinationConfig => typeof c !== 'string' && targetOf(c) === target);
    if (!cfg) throw new ReconSyncError('UNKNOWN_BACKUP', `${redactSecrets(target)} is no longer a destination of ${server.id} in agent.yaml; add it back to reach its backups`);
    return new ResticDestination({
      target, repository: cfg.restic, password: cfg.password, serverId: server.id, tmpDir: d.tmpDir, logger: d.logger,
      // The cache under dataDir: the service's home may be read-only (systemd ProtectHome), and restic without a cache re-reads the repository's index every run.
      restic: { cacheDir: path.join(d.dataDir, 'restic-cache'), ...d.restic, rcloneConfig: d.rclone?.config }, pool: d.pool,
    }) satisfies Destination;
  }
  // A folder (config paths are absolute by now) is copied with file operations: no rclone needed, as `config check` says.
  if (path.isAbsolute(target) || path.win32.isAbsolute(target)) return new LocalDestination({ folder: target, serverId: server.id, logger: d.logger }) satisfies Destination;
  return new RcloneDestination({
    target, serverId: server.id, rclone: { ...DefaultRcloneSettings, ...d.rclone }, tmpDir: d.tmpDir, logger: d.logger,
  }) satisfies Destination;
}

/** The server's configured targets, each once, "local" first when asked for. */
export function serverTargets(server: ResolvedServer, includeLocal: boolean): string[] {
  return [...new Set([...(includeLocal ? [LOCAL_TARGET] : []), ...server.config.backup.destinations.map(targetOf).filter((t) => t !== LOCAL_TARGET)])];
}
