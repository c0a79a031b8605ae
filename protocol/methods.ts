import { z } from 'zod';
import { BackupRecordSchema, ServerStateSchema, ServerStatusSchema, id } from './status.ts';
import { UpdateInfoSchema } from './update.ts';

const serverParams = z.object({ serverId: id });

/** Methods the hub calls on an agent. One registry, used by both ends. */
export const agentMethods = {
  'server.status': {
    params: z.object({ serverId: id.optional() }),
    result: z.object({ servers: z.array(ServerStatusSchema) }),
  },
  'server.start': {
    params: serverParams,
    result: z.object({ state: ServerStateSchema }),
  },
  'server.stop': {
    params: serverParams,
    result: z.object({ state: ServerStateSchema, graceful: z.boolean(), message: z.string().optional() }),
  },
  'server.restart': {
    params: serverParams.extend({
      /** Seconds before the restart at which players are warned, e.g. [300, 60, 10]; empty = now. */
      warnAt: z.array(z.number().int().positive().max(3600)).max(10).default([]),
    }),
    result: z.object({ state: ServerStateSchema, graceful: z.boolean() }),
  },
  /** Cancels a scheduled restart (restart.schedule) still warning players or waiting for them to leave. */
  'server.restart.cancel': {
    params: serverParams,
    result: z.object({ cancelled: z.boolean() }),
  },
  /** The last lines of the game's output (the agent's log of it), secrets redacted; bounded to fit one frame. */
  'server.log': {
    params: serverParams.extend({ lines: z.number().int().min(1).max(1000).default(100) }),
    result: z.object({ lines: z.array(z.string().max(1100)).max(1000), truncated: z.boolean() }),
  },
  'server.rcon': {
    params: serverParams.extend({ command: z.string().min(1).max(1000) }),
    result: z.object({ output: z.string() }),
  },
  'backup.create': {
    params: serverParams.extend({ note: z.string().max(500).optional() }),
    result: BackupRecordSchema,
  },
  'backup.list': {
    params: serverParams,
    result: z.object({ backups: z.array(BackupRecordSchema) }),
  },
  'backup.restore': {
    params: serverParams.extend({
      backupId: z.string().min(1).max(128),
      /** A destination target to fetch from; default: the first verified one, local first. */
      from: z.string().min(1).max(1024).optional(),
      /** Restore only these archive paths (relative, as in the manifest). */
      paths: z.array(z.string().min(1).max(1024)).max(1000).optional(),
    }),
    result: z.object({ backupId: z.string(), preRestoreBackupId: z.string().nullable(), from: z.string() }),
  },
  'backup.lock': {
    params: serverParams.extend({ backupId: z.string().min(1).max(128), locked: z.boolean() }),
    result: BackupRecordSchema,
  },
  'update.status': {
    params: serverParams,
    result: UpdateInfoSchema,
  },
  'update.check': {
    params: serverParams,
    result: UpdateInfoSchema,
  },
  /** Starts the update pipeline and answers at once; the outcome comes as an `update.state` record. */
  'update.apply': {
    params: serverParams.extend({
      /** Minutes before the update at which players are warned; default: the server's update.warnAt. */
      warnMinutes: z.array(z.number().positive().max(1440)).max(10).optional(),
      actor: z.string().max(200).optional(),
    }),
    result: z.object({ started: z.boolean(), from: z.string().nullable(), to: z.string().nullable() }),
  },
  'agent.ping': {
    params: z.object({}),
    result: z.object({ now: z.number() }),
  },
} as const;

/** Methods an agent calls on the hub. */
export const hubMethods = {
  'hub.ping': {
    params: z.object({}),
    result: z.object({ now: z.number() }),
  },
} as const;

export type MethodRegistry = Record<string, { params: z.ZodType; result: z.ZodType }>;
export type AgentMethods = typeof agentMethods;
export type HubMethods = typeof hubMethods;
export type AgentMethod = keyof AgentMethods;
export type HubMethod = keyof HubMethods;
export type ParamsOf<R extends MethodRegistry, M extends keyof R> = z.input<R[M]['params']>;
export type ParsedParamsOf<R extends MethodRegistry, M extends keyof R> = z.output<R[M]['params']>;
export type ResultOf<R extends MethodRegistry, M extends keyof R> = z.output<R[M]['result']>;

/** Default per-call timeouts; long jobs get long timeouts, the rest stay snappy. */
export const defaultTimeoutMs: Record<AgentMethod | HubMethod, number> = {
  'server.status': 10_000,
  'server.start': 120_000,
  'server.stop': 180_000,
  'server.restart': 3_900_000,
  'server.restart.cancel': 10_000,
  'server.log': 15_000,
  'server.rcon': 15_000,
  'backup.create': 3_600_000,
  'backup.list': 30_000,
  'backup.restore': 3_600_000,
  'backup.lock': 30_000,
  'update.status': 10_000,
  'update.check': 600_000,
  'update.apply': 600_000,
  'agent.ping': 10_000,
  'hub.ping': 10_000,
};
