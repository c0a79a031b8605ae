import type { Clock, ServerState } from '../../protocol/index.ts';
import type { QueryResult, StatusProbe } from '../types.ts';
import { withTimeout } from './timers.ts';
import { errorMessage } from '../../lib/error-message.ts';

export type QueryOutcome = { ok: true; result: QueryResult | null } | { ok: false; error: string };

/** One status query within `timeoutMs`; without a probe, process liveness stands in for it. */
export async function queryHealth(probe: StatusProbe | null, alive: boolean | null, clock: Clock, timeoutMs: number, signal: AbortSignal): Promise<QueryOutcome> {
  if (!probe) return alive ? { ok: true, result: null } : { ok: false, error: 'no status query and no process' };
  try {
    return { ok: true, result: await withTimeout(clock, timeoutMs, 'status query', (s) => probe.query(s), signal) };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
}

export interface HealthInput {
  state: ServerState;
  managed: boolean;
  outcome: QueryOutcome;
  /** A game process is known (spawned or adopted) and was alive at the check. */
  hasProcess: boolean;
  /** Still inside health.startGraceMs after a start: failures are not counted. */
  inGrace: boolean;
  /** Consecutive failures before this check. */
  failures: number;
  /** health.failures */
  failureLimit: number;
}

export interface HealthVerdict {
  failures: number;
  to?: ServerState;
  reason?: string;
  /** recovered when the game answers again after unresponsive/crashed; unresponsive when it stops answering. */
  alert?: 'recovered' | 'unresponsive';
  /** The caller applies the hang restart policy. */
  hang?: boolean;
}

/** States in which the health check decides; the others belong to the exit handler and the power actions. */
const judgedWhenManaged: readonly ServerState[] = ['unknown', 'starting', 'running', 'unresponsive'];

/**
 * What one health check means (issue 3 item 4): an answer makes the server
 * running; `failureLimit` failures in a row (not counted during the start
 * grace) make it unresponsive while its process lives, or stopped when there
 * is no process (watch-only servers only: a managed server without a process
 * is never judged here).
 */
export function judgeHealth(i: HealthInput): HealthVerdict {
  if (i.managed && !judgedWhenManaged.includes(i.state)) return { failures: i.failures };
  if (i.outcome.ok) {
    if (i.state === 'running') return { failures: 0 };
    return {
      failures: 0,
      to: 'running',
      reason: i.outcome.result ? 'answers its status query' : 'process is alive',
      ...(i.state === 'unresponsive' || i.state === 'crashed' ? { alert: 'recovered' as const } : {}),
    };
  }
  const failures = i.inGrace ? i.failures : i.failures + 1;
  if (failures < i.failureLimit) return { failures };
  if (i.hasProcess) {
    if (i.state === 'unresponsive') return { failures };
    return { failures, to: 'unresponsive', reason: `status query failed ${failures} times in a row: ${i.outcome.error}`, alert: 'unresponsive', hang: true };
  }
  if (i.state === 'stopped') return { failures };
  return { failures, to: 'stopped', reason: `status query failed ${failures} times in a row and no process was found` };
}
