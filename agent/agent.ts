import { mkdir } from 'node:fs/promises';
import { systemClock, ReconSyncError, type Clock, type ClockTimer, type EventData, type RecordTopic, type ServerStatus } from '../protocol/index.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { VERSION } from '../lib/version.ts';
import type { AgentConfig } from './config.ts';
import type { ResolvedServer } from './types.ts';
import { resolveAgentServers } from './resolve-servers.ts';
import { AgentLink, type AgentLinkOptions } from './link/link.ts';
import type { LinkStopped } from './link/link-options.ts';
import { createPlatform, type Platform } from './platform.ts';
import { Supervisor, SupervisorEvents } from './supervisor/index.ts';
import { createStatusProbe } from './monitors/query.ts';
import { createAdminChannel } from './monitors/admin/index.ts';
import { BackupEngine, type BackupEngineOptions } from './backup/engine.ts';
import { RestartScheduler } from './scheduler/restart-scheduler.ts';
import { BackupScheduler } from './scheduler/scheduler.ts';
import { RepoCheckScheduler } from './scheduler/repo-check-scheduler.ts';
import { createHandlers } from './handlers.ts';
import { Updater, type UpdaterOptions } from './update/updater.ts';
import type { ServerUnit } from './server-unit.ts';

export interface AgentDeps {
  config: AgentConfig;
  logger?: Logger;
  clock?: Clock;
  platform?: Platform;
  /** Servers already joined with their profiles (default: resolved from config). */
  servers?: ResolvedServer[];
  /** Link tuning for tests and benchmarks (heartbeat, backoff...). */
  link?: Partial<Omit<AgentLinkOptions, 'url' | 'token' | 'agentId' | 'agentVersion' | 'dataDir' | 'servers' | 'handlers'>>;
  /** How often to check for overdue backups. */
  overdueCheckMs?: number;
  /** Backup engine tuning (upload retries, progress rate) for tests and benchmarks. */
  backup?: Partial<Pick<BackupEngineOptions, 'uploadAttempts' | 'uploadBackoffMs' | 'progressIntervalMs'>>;
  /** Update tuning (check jitter, polling) and seams for failures that cannot be made on demand (a full disk). */
  update?: Partial<Pick<UpdaterOptions, 'freeSpace' | 'runner' | 'random' | 'jitterMs' | 'pollMs' | 'os'>>;
}

// Re-exported: agent.ts is the agent's public face and tests name the unit through it.
export type { ServerUnit };

export interface Agent {
  readonly id: string;
  readonly link: AgentLink;
  readonly engine: BackupEngine;
  readonly updater: Updater;
  /** Scheduled restarts (restart.schedule). */
  readonly restarts: RestartScheduler;
  readonly units: ReadonlyMap<string, ServerUnit>;
  /** Why the link gave up for good (revoked, replaced...), also when that happened while the agent was starting; null while it runs. */
  readonly linkStopped: LinkStopped | null;
  /** Ends the agent's own work (schedules, backups, watching, the link). Managed games keep running: the next agent adopts them. */
  close(): Promise<void>;
}

const DEFAULT_OVERDUE_CHECK_MS = 10 * 60_000;

/**
 * Wires an agent from its config: per server a supervisor (process, query,
 * admin channel), one backup engine and scheduler, and the link to the hub.
 * Nothing here listens on a port: the agent only dials out (style.md §12).
 */
export async function createAgent(deps: AgentDeps): Promise<Agent> {
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = (deps.logger ?? silentLogger).child({ agentId: config.id });
  const platform = deps.platform ?? createPlatform();
  const servers = deps.servers ?? resolveAgentServers(config, platform.os);
  await mkdir(config.dataDir, { recursive: true });

  const lastBackup = new Map<string, ServerStatus['lastBackup']>();
  // The link is created before the engine, so records go straight to the outbox.
  let link!: AgentLink;
  const publishRecord = async <T extends RecordTopic>(topic: T, data: EventData<T>): Promise<void> => {
    if (topic === 'backup.completed' || topic === 'backup.updated') {
      const rec = data as EventData<'backup.completed'>;
      const verified = rec.destinations.some((d) => d.verified);
      const current = lastBackup.get(rec.serverId);
      if (verified && (!current || current.createdAt <= rec.createdAt)) {
        lastBackup.set(rec.serverId, { id: rec.id, createdAt: rec.createdAt, size: rec.size, verified });
      }
    }
    await link.publishRecord(topic, data);
  };

  const engine = new BackupEngine({
    ...deps.backup,
    dataDir: config.dataDir,
    rclone: config.rclone,
    restic: { binary: config.restic.path, timeoutMs: config.restic.timeoutMs },
    clock,
    logger: logger.child({ component: 'backup' }),
    publishRecord,
    publishState: (topic, data) => link.publishState(topic, data),
    toolVersion: VERSION,
  });

  // Created before the supervisors: their status carries the next scheduled restart. Started with the other schedules.
  const restarts = new RestartScheduler({
    clock,
    logger,
    target: (serverId) => {
      const u = unit(serverId);
      return { running: () => u.supervisor.state === 'running', players: () => u.supervisor.status().players.online, restart: (o) => u.supervisor.restart(o) };
    },
  });
  const units = new Map<string, ServerUnit>();
  for (const server of servers) {
    const log = logger.child({ serverId: server.id });
    const admin = createAdminChannel(server, { logger: log });
    const probe = server.query.kind === 'none' ? null : createStatusProbe(server, { admin });
    const supervisor = new Supervisor({
      server, probe, admin, platform, dataDir: config.dataDir, clock, logger: log,
      lastBackup: () => lastBackup.get(server.id) ?? null,
    });
    supervisor.on(SupervisorEvents.Status, (status) => {
      const next = restarts.nextRun(server.id);
      const connect = server.config.connect;
      link.publishState('status', { ...status, ...(next ? { nextRestart: next.toISOString() } : {}), ...(connect ? { connect } : {}), playerDetail: server.profile.query.players });
    });
    supervisor.on(SupervisorEvents.Alert, (alert) => {
      void link.publishRecord('alert', { serverId: server.id, kind: alert.kind, message: alert.message, at: alert.at })
        .catch((err: unknown) => log.error({ err }, 'could not store an alert in the outbox'));
    });
    units.set(server.id, { server, supervisor, admin, probe });
  }

  const unit = (serverId: string): ServerUnit => {
    const u = units.get(serverId);
    if (!u) throw new ReconSyncError('UNKNOWN_SERVER', `agent ${config.id} has no server "${serverId}"`);
    return u;
  };

  const updater = new Updater({
    os: platform.os,
    ...deps.update,
    config, units, engine, clock,
    logger: logger.child({ component: 'update' }),
    publishRecord: async (topic, data) => {
      await link.publishRecord(topic, data);
    },
    publishState: (topic, data) => link.publishState(topic, data),
  });

  link = new AgentLink({
    ...deps.link,
    url: config.hub.url,
    token: config.hub.token,
    agentId: config.id,
    agentVersion: VERSION,
    dataDir: config.dataDir,
    ca: config.hub.ca,
    logger: logger.child({ component: 'link' }),
    clock,
    servers: () => servers.map((s) => ({ id: s.id, game: s.profile.id, name: s.name, managed: s.managed })),
    handlers: createHandlers({ unit, units, engine, updater, restarts, clock, dataDir: config.dataDir, agentSecrets: [config.hub.token] }),
  });
  let linkStopped: LinkStopped | null = null;
  link.once('stopped', (event) => {
    linkStopped = event;
  });

  const recovered = await engine.init(servers);
  for (const r of recovered) logger.warn({ recovered: r }, 'finished an interrupted restore from before the last shutdown');
  for (const server of servers) {
    const newest = (await engine.list(server.id)).find((b) => b.destinations.some((d) => d.verified));
    if (newest) lastBackup.set(server.id, { id: newest.id, createdAt: newest.createdAt, size: newest.size, verified: true });
  }

  await link.start();
  for (const u of units.values()) await u.supervisor.open();
  // An update the last agent died in is finished (or rolled back) first; those servers are started by it, not here.
  const updating = await updater.recover();
  for (const u of units.values()) {
    // The supervisor decides (start.autoStart, unless an operator's stop stands).
    if (!updating.has(u.server.id)) void u.supervisor.autoStart().catch((err: unknown) => logger.error({ err, serverId: u.server.id }, 'could not start the game'));
  }

  const scheduler = new BackupScheduler({
    dataDir: config.dataDir,
    clock,
    logger: logger.child({ component: 'scheduler' }),
    run: async (serverId, trigger, signal) => {
      const u = unit(serverId);
      await engine.create(u.server, u.supervisor, u.admin, { trigger, signal });
    },
  });
  scheduler.start(servers.filter((s) => s.config.backup.schedule).map((s) => ({ serverId: s.id, schedule: s.config.backup.schedule!, timezone: s.config.backup.timezone })));

  restarts.start(servers.filter((s) => s.config.restart.schedule).map((s) => ({
    serverId: s.id, schedule: s.config.restart.schedule!, timezone: s.config.restart.timezone, warnAt: s.config.restart.warnAt,
    skipIfPlayersAbove: s.config.restart.skipIfPlayersAbove, waitForEmptyMinutes: s.config.restart.waitForEmptyMinutes,
  })));

  // Integrity of restic repositories: a spot check of their pack data, alerting on any error.
  const repoCheck = servers.some((s) => s.config.backup.destinations.some((d) => typeof d !== 'string'))
    ? new RepoCheckScheduler({
      schedule: config.restic.check, clock, logger: logger.child({ component: 'restic-check' }),
      run: async (signal) => { await engine.checkRepositories(servers, config.restic.checkSubset, signal); },
    })
    : null;
  repoCheck?.start();

  // On the injected clock, so a test moves time instead of waiting; unref'd: this check alone keeps no process alive.
  const overdueEveryMs = deps.overdueCheckMs ?? DEFAULT_OVERDUE_CHECK_MS;
  let overdueTimer: ClockTimer | null = null;
  const armOverdueCheck = (): void => {
    overdueTimer = clock.setTimer(overdueEveryMs, () => {
      for (const s of servers) {
        if (s.config.backup.maxAgeHours !== undefined) void engine.checkOverdue(s).catch((err: unknown) => logger.warn({ err, serverId: s.id }, 'overdue check failed'));
      }
      armOverdueCheck();
    });
    overdueTimer.unref();
  };
  armOverdueCheck();
  updater.start();

  let closing: Promise<void> | undefined;
  return {
    id: config.id,
    link,
    engine,
    updater,
    restarts,
    units,
    get linkStopped() {
      return linkStopped;
    },
    close() {
      closing ??= (async () => {
        overdueTimer?.cancel();
        await scheduler.stop();
        await repoCheck?.stop();
        await restarts.stop();
        await updater.close();
        // The hub's calls still running here (an API-started backup or restore) are aborted and
        // awaited while the engine and the outbox still work: each backup's outcome is recorded.
        await link.abortCalls();
        // Supervisors stop watching but leave the game running: an agent restart must not take the server down.
        await Promise.allSettled([...units.values()].map((u) => u.supervisor.close()));
        await Promise.allSettled([...units.values()].flatMap((u) => [u.probe?.close(), u.admin?.close()]));
        await engine.close();
        await link.close();
      })();
      return closing;
    },
  };
}
