import { z } from 'zod';

/** Supervisor states (fixed names, design.md §4a). */
export const serverStates = ['unknown', 'stopped', 'starting', 'running', 'unresponsive', 'crashed', 'stopping'] as const;
export const ServerStateSchema = z.enum(serverStates);
export type ServerState = z.infer<typeof ServerStateSchema>;

export const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore');

/**
 * Length limits of the status fields a game can fill. Named so the agent can
 * cut what it reads from a game to exactly these where it enters.
 */
export const StatusLimits = {
  game: 64,
  name: 128,
  playerName: 128,
  playerNames: 512,
  map: 256,
  version: 128,
  message: 1000,
} as const;

export const PlayersSchema = z.object({
  online: z.number().int().nonnegative(),
  max: z.number().int().nonnegative(),
  names: z.array(z.string().max(StatusLimits.playerName)).max(StatusLimits.playerNames),
});
export type Players = z.infer<typeof PlayersSchema>;

export const ResourcesSchema = z.object({
  cpuPercent: z.number().nonnegative().nullable(),
  rssBytes: z.number().nonnegative().nullable(),
  diskFreeBytes: z.number().nonnegative().nullable(),
  uptimeSec: z.number().nonnegative().nullable(),
});
export type Resources = z.infer<typeof ResourcesSchema>;

export const backupTriggers = ['manual', 'schedule', 'pre-restore', 'catch-up', 'pre-update'] as const;
export const BackupTriggerSchema = z.enum(backupTriggers);

export const DestinationStateSchema = z.object({
  target: z.string().max(1024),
  verified: z.boolean(),
  error: z.string().max(2000).optional(),
  /** The restic snapshot id holding this backup (restic destinations only). */
  snapshot: z.string().regex(/^[0-9a-f]{8,64}$/).optional(),
});

/** A backup as the hub catalogs it and the API shows it (design.md §4a plus extras). */
export const BackupRecordSchema = z.object({
  id: z.string().min(1).max(128),
  serverId: id,
  game: z.string().max(64),
  createdAt: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  files: z.number().int().nonnegative(),
  trigger: BackupTriggerSchema,
  note: z.string().max(500).optional(),
  format: z.enum(['tar.zst', 'tar.gz']),
  locked: z.boolean(),
  destinations: z.array(DestinationStateSchema),
  /** What the archiver noticed, one summary per kind (files that vanished during the copy, names it could not carry). */
  warnings: z.array(z.string().max(1000)).max(20).optional(),
});
export type BackupRecord = z.infer<typeof BackupRecordSchema>;

export const LastBackupSchema = z.object({
  id: z.string(),
  createdAt: z.string(),
  size: z.number().int().nonnegative(),
  verified: z.boolean(),
});

/** Newest-wins status of one server, sent by the agent on change and at a slow heartbeat. */
export const ServerStatusSchema = z.object({
  id,
  game: z.string().max(StatusLimits.game),
  name: z.string().max(StatusLimits.name),
  managed: z.boolean(),
  state: ServerStateSchema,
  players: PlayersSchema,
  map: z.string().max(StatusLimits.map).nullable(),
  version: z.string().max(StatusLimits.version).nullable(),
  resources: ResourcesSchema,
  lastBackup: LastBackupSchema.nullable(),
  message: z.string().max(StatusLimits.message).optional(),
  /** When the next scheduled restart takes the game down (ISO time); absent without restart.schedule. */
  nextRestart: z.string().max(40).optional(),
  /** How players join (agent.yaml connect), shown on the card. */
  connect: z.string().max(200).optional(),
  /** The game profile's query.players: whether the status names the players or only counts them; absent from older agents. */
  playerDetail: z.enum(['names', 'counts']).optional(),
  updatedAt: z.string(),
});
export type ServerStatus = z.infer<typeof ServerStatusSchema>;

/** What the agent tells the hub about each server in its hello. */
export const ServerSummarySchema = z.object({
  id,
  game: z.string().max(64),
  name: z.string().max(128),
  managed: z.boolean(),
});
export type ServerSummary = z.infer<typeof ServerSummarySchema>;
