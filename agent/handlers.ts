import type { AgentMethods, Clock, Handlers } from '../protocol/index.ts';
import type { BackupEngine } from './backup/engine.ts';
import type { ServerUnit } from './server-unit.ts';
import type { Updater } from './update/updater.ts';
import type { RestartScheduler } from './scheduler/restart-scheduler.ts';
import { readLogTail } from './log-tail.ts';
import { launcherPaths, serverSecrets } from './supervisor/launcher.ts';

interface HandlerDeps {
  unit(serverId: string): ServerUnit;
  units: ReadonlyMap<string, ServerUnit>;
  engine: BackupEngine;
  updater: Updater;
  restarts: RestartScheduler;
  /** The agent's clock: `agent.ping` answers with its time. */
  clock: Clock;
  /** The agent's dataDir (game logs live in its logs/ folder). */
  dataDir: string;
  /** Secrets of the agent itself (its hub token), redacted from anything sent. */
  agentSecrets: readonly string[];
}

/**
 * The agent's side of every RPC method: thin calls into the supervisor and the
 * backup engine. Power actions from the hub are the operator's word
 * (`operator: true`): the supervisor alone records it.
 */
export function createHandlers({ unit, units, engine, updater, restarts, clock, dataDir, agentSecrets }: HandlerDeps): Handlers<AgentMethods> {
  return {
    'agent.ping': async () => ({ now: clock.now() }),
    'server.status': async ({ serverId }) => ({
      servers: serverId ? [unit(serverId).supervisor.status()] : [...units.values()].map((u) => u.supervisor.status()),
    }),
    'server.start': async ({ serverId }) => ({ state: await unit(serverId).supervisor.start({ operator: true }) }),
    'server.stop': async ({ serverId }) => {
      const u = unit(serverId);
      const outcome = await u.supervisor.stop({ reason: 'operator', operator: true });
      return { state: u.supervisor.state, graceful: outcome.graceful, ...(outcome.message ? { message: outcome.message } : {}) };
    },
    'server.restart': async ({ serverId, warnAt }, ctx) => {
      const r = await unit(serverId).supervisor.restart({ warnAt, signal: ctx.signal, reason: 'operator', operator: true });
      return { state: r.state, graceful: r.graceful };
    },
    'server.restart.cancel': async ({ serverId }) => {
      unit(serverId);
      return { cancelled: restarts.cancel(serverId) };
    },
    'server.log': async ({ serverId, lines }) => {
      const u = unit(serverId);
      return readLogTail(launcherPaths(dataDir, serverId).log, lines, [...serverSecrets(u.server), ...agentSecrets]);
    },
    'server.rcon': async ({ serverId, command }, ctx) => ({ output: await unit(serverId).supervisor.rcon(command, ctx.signal) }),
    'backup.create': async ({ serverId, note }, ctx) => {
      const u = unit(serverId);
      return engine.create(u.server, u.supervisor, u.admin, { trigger: 'manual', ...(note ? { note } : {}), signal: ctx.signal });
    },
    'backup.list': async ({ serverId }) => {
      unit(serverId);
      return { backups: await engine.list(serverId) };
    },
    'backup.restore': async ({ serverId, backupId, from, paths }, ctx) => {
      const u = unit(serverId);
      return engine.restore(u.server, u.supervisor, u.admin, { backupId, ...(from ? { from } : {}), ...(paths ? { paths } : {}), signal: ctx.signal });
    },
    'update.status': async ({ serverId }) => updater.status(serverId),
    'update.check': async ({ serverId }, ctx) => updater.check(serverId, ctx.signal),
    'update.apply': async ({ serverId, warnMinutes, actor }) => {
      const before = await updater.status(serverId);
      updater.apply(serverId, { ...(warnMinutes ? { warnMinutes } : {}), actor: actor ?? 'operator' });
      return { started: true, from: before.installedBuild, to: before.latestBuild };
    },
    'backup.lock': async ({ serverId, backupId, locked }) => engine.lock(unit(serverId).server, backupId, locked),
  };
}
