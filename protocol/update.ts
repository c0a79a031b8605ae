import { z } from 'zod';
import { id } from './status.ts';

/** How an update ended (design.md §10 `last.outcome`). */
export const updateOutcomes = ['updated', 'up_to_date', 'rolled_back', 'failed'] as const;
export const UpdateOutcomeSchema = z.enum(updateOutcomes);
export type UpdateOutcome = z.infer<typeof UpdateOutcomeSchema>;

/** Pipeline steps, in order; an outcome names the step it ended in. */
export const updateSteps = ['check', 'space', 'warn', 'wait-empty', 'stop', 'backup', 'keep-previous', 'download', 'confirm', 'start', 'health', 'rollback', 'done'] as const;
export const UpdateStepSchema = z.enum(updateSteps);
export type UpdateStep = z.infer<typeof UpdateStepSchema>;

const build = z.string().max(64);

export const UpdateLastSchema = z.object({
  from: build.nullable(),
  to: build.nullable(),
  outcome: UpdateOutcomeSchema,
  step: UpdateStepSchema,
  message: z.string().max(2000),
  at: z.string(),
});
export type UpdateLast = z.infer<typeof UpdateLastSchema>;

/** GET /api/v1/servers/{id}/update (design.md §10, fixed); builds are strings. */
export const UpdateInfoSchema = z.object({
  appId: z.number().int().positive(),
  branch: z.string().max(64),
  installedBuild: build.nullable(),
  latestBuild: build.nullable(),
  available: z.boolean(),
  checkedAt: z.string().nullable(),
  last: UpdateLastSchema.nullable(),
});
export type UpdateInfo = z.infer<typeof UpdateInfoSchema>;

/** Record topic `update.state`: a server's update facts after a check or a pipeline outcome (loss-free, via the outbox). */
export const UpdateStateRecordSchema = UpdateInfoSchema.extend({
  serverId: id,
  /** What changed: a check's result, a newly seen build (raised once per build), or a pipeline outcome. */
  event: z.enum(['checked', 'available', 'outcome']),
});
export type UpdateStateRecord = z.infer<typeof UpdateStateRecordSchema>;

/** State topic `update.progress`: the running pipeline's step (newest wins). */
export const UpdateProgressSchema = z.object({
  serverId: id,
  step: UpdateStepSchema,
  message: z.string().max(500),
  percent: z.number().min(0).max(100).nullable(),
  at: z.string(),
});
export type UpdateProgress = z.infer<typeof UpdateProgressSchema>;
