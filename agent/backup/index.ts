/** The backup engine's public surface; everything else in this folder is internal. */
export { BackupEngine, DefaultEngineOptions, defaultBackupId, publicRecord, type BackupEngineOptions, type CreateRequest, type PublishRecord, type PublishState } from './engine.ts';
export type { RestoreRequest, RestoreResult } from './restore-pipeline.ts';
export type { BackupContext } from './context.ts';
export type { Destination } from './destination.ts';
export { LocalDestination, localBackupDir } from './local.ts';
export { RcloneDestination, redactSecrets, type RcloneSettings } from './rclone.ts';
export { ManifestSchema, type Manifest } from './manifest.ts';
export { planRetention, type Keep, type RetentionItem } from './retention.ts';
export { recoverSwaps, type RecoveredRestore } from './swap.ts';
export { ZstdPool, type ArchiveFormat } from './compress.ts';
