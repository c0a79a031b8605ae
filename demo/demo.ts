import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createLogger } from '../lib/logger.ts';
import { startHub, type Hub } from '../hub/hub.ts';
import { createToken } from '../hub/tokens.ts';
import { AgentConfigSchema, resolveAgentPaths, type AgentConfig } from '../agent/config.ts';
import { createAgent, type Agent } from '../agent/agent.ts';
import { simMainPath } from '../sim/index.ts';
import type { Actor } from '../hub/service/types.ts';
import { formatBytes, LiveBlock, renderStatus } from './view.ts';
import { freePort } from './ports.ts';
import { discordFromEnv } from './discord-env.ts';
import { discordExtension } from '../hub/discord-extension.ts';
import { installBuild } from '../agent/update/install.ts';
import { SteamCmd } from '../agent/update/steamcmd.ts';
import type { Logger } from '../lib/logger.ts';
import { errorMessage } from '../lib/error-message.ts';

/** The SteamCMD stand-in the tests use: the demo has no Steam to talk to. */
const STEAMCMD_STAND_IN = fileURLToPath(new URL('../test/support/steamcmd/steamcmd.mjs', import.meta.url));
const DEMO_APP_ID = 376030;

interface DemoSteam { installDir: string; appCacheDir: string; publish(build: string): Promise<void> }

/** Points the stand-in at the demo folder and installs build 100 of the demo game with it. */
async function installDemoGame(dir: string, logger: Logger): Promise<DemoSteam> {
  const home = path.join(dir, 'steam');
  const control = path.join(dir, 'steamcmd-control.json');
  const write = (build: string) => writeFile(control, JSON.stringify({ apps: { [DEMO_APP_ID]: { name: 'ARK (demo)', branches: { public: { buildid: build } } } } }));
  await write('100');
  // The stand-in is configured through its environment; the demo process is its only user.
  Object.assign(process.env, { STEAMCMD_SIM_HOME: home, STEAMCMD_SIM_CONTROL: control, STEAMCMD_SIM_STEP_MS: '150' });
  const installDir = path.join(dir, 'ark');
  const appCacheDir = path.join(home, 'appcache');
  const steam = new SteamCmd({ path: STEAMCMD_STAND_IN, os: 'linux', appCacheDir, timeoutMs: 60_000, infoTimeoutMs: 30_000, logger });
  const r = await installBuild(steam, { appId: DEMO_APP_ID, installDir, branch: 'public', validate: false, retries: 0, logger });
  if (!r.ok) throw new Error(`could not install the demo game with the SteamCMD stand-in: ${r.message}`);
  return { installDir, appCacheDir, publish: write };
}

export interface DemoOptions {
  /** Stop by itself after this many seconds (tests); default: run until Ctrl+C. */
  seconds?: number | undefined;
  /** When Steam gets a new build of the demo game (SteamCMD stand-in); default a minute in. */
  newBuildAfterSeconds?: number | undefined;
  out?: NodeJS.WriteStream;
}

const DEFAULT_NEW_BUILD_AFTER_S = 60;

const SERVER_ID = 'demo-ark';
const actor: Actor = { kind: 'cli', id: 'demo', name: 'reconsync demo' };

/**
 * `reconsync demo`: a hub, an agent and a simulated ARK server on loopback,
 * in a temporary folder that is removed on exit. The agent manages the game
 * (starts it, restarts it on a crash) and backs it up every 5 minutes. The
 * game is installed with the SteamCMD stand-in (test/support/steamcmd), which
 * publishes a new build a minute in: the agent finds it and updates the game
 * (policy auto: warning, backup, SteamCMD, start, health check).
 */
export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const out = opts.out ?? process.stdout;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-demo-'));
  const logFile = path.join(dir, 'demo.log');
  const logger = createLogger({ level: 'info', destination: pino.destination({ dest: logFile, sync: false, mkdir: true }) });
  const view = new LiveBlock(out);
  let hub: Hub | undefined;
  let agent: Agent | undefined;
  let refresh: NodeJS.Timeout | undefined;
  let newBuild: NodeJS.Timeout | undefined;
  const stopped = new AbortController();

  const cleanup = async () => {
    if (refresh) clearInterval(refresh);
    if (newBuild) clearTimeout(newBuild);
    // The agent leaves games running when it stops (so an agent upgrade does not take servers down); the demo's game goes too.
    const unit = agent?.units.get(SERVER_ID);
    if (unit && unit.supervisor.state !== 'stopped') await unit.supervisor.stop({ reason: 'demo ends' }).catch(() => undefined);
    await agent?.close().catch(() => undefined);
    await hub?.close().catch(() => undefined);
    logger.flush();
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  const onSignal = () => stopped.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const timer = opts.seconds ? setTimeout(onSignal, opts.seconds * 1000) : undefined;

  try {
    const apiToken = randomBytes(24).toString('base64url');
    const discord = discordFromEnv(process.env);
    hub = await startHub({
      config: { listen: { host: '127.0.0.1', port: 0 }, dataDir: path.join(dir, 'hub'), api: { token: apiToken }, ...(discord ? { discord } : {}) },
      logger: logger.child({ name: 'hub' }),
      ...(discord ? { extensions: [discordExtension(discord, logger)] } : {}),
    });
    const agentToken = createToken(hub.store, 'demo-agent');
    out.write(`ReconSync demo — everything runs on 127.0.0.1 in ${dir}\n`);
    out.write(`  hub:        ${hub.url}   (API token: ${apiToken})\n`);
    out.write(`  try:        curl -H "Authorization: Bearer ${apiToken}" ${hub.url}/api/v1/servers\n`);
    out.write(`  logs:       ${logFile}\n`);
    out.write(`  discord:    ${discord ? 'bot enabled from DISCORD_* variables' : 'off (set DISCORD_TOKEN and DISCORD_APPLICATION_ID to run the bot)'}\n`);
    out.write('  Ctrl+C stops everything.\n\n');

    view.log('installing the demo game (build 100) with the SteamCMD stand-in…');
    const steam = await installDemoGame(dir, logger);
    const config = await demoAgentConfig(dir, hub.agentUrl, agentToken, steam);
    view.log('starting the agent; it starts the game…');
    agent = await createAgent({ config, logger: logger.child({ name: 'agent' }), update: { jitterMs: 2000 } });
    hub.service.on('updateProgress', (p) => p.serverId === SERVER_ID && view.log(`update: ${p.step}: ${p.message}${p.percent === null ? '' : ` ${p.percent.toFixed(0)}%`}`));
    hub.service.on('updateState', (u) => {
      if (u.serverId === SERVER_ID && u.event === 'outcome' && u.last) view.log(`update ${u.last.from} → ${u.last.to}: ${u.last.outcome} (${u.last.message})`);
    });
    const afterS = opts.newBuildAfterSeconds ?? DEFAULT_NEW_BUILD_AFTER_S;
    newBuild = setTimeout(() => {
      void steam.publish('101').then(() => view.log('Steam has a new build (101) of the demo game; the agent picks it up at its next check (every 10 s)…'));
    }, afterS * 1000);
    newBuild.unref();

    hub.service.on('alert', (a) => view.log(`alert: ${a.serverId} ${a.kind}: ${a.message}`));
    hub.service.on('backupRecorded', (b) => {
      const verified = b.destinations.filter((d) => d.verified).map((d) => d.target);
      if (verified.length) view.log(`backup ${b.id} verified on ${verified.join(', ')}: ${formatBytes(b.size)}, ${b.files} files, sha256 ${b.sha256.slice(0, 16)}…`);
    });
    const draw = () => hub && view.draw(renderStatus(hub.service.listServers(), Date.now(), out.isTTY === true));
    refresh = setInterval(draw, 1000);
    draw();

    await waitForRunning(hub, stopped.signal);
    if (!stopped.signal.aborted) {
      view.log('server is running; taking the first backup now (then every 5 minutes)…');
      const record = await hub.service.createBackup(SERVER_ID, actor, { note: 'first demo backup', signal: stopped.signal });
      view.log(`first backup done: ${record.id}, ${formatBytes(record.size)}, ${record.destinations.filter((d) => d.verified).length} verified copy(ies)`);
      draw();
    }
    if (!stopped.signal.aborted) await new Promise((resolve) => stopped.signal.addEventListener('abort', resolve, { once: true }));
    view.log('stopping…');
    return 0;
  } catch (err) {
    if (stopped.signal.aborted) return 0;
    out.write(`demo failed: ${errorMessage(err)}\n  (log: ${logFile})\n`);
    return 1;
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
    out.write('demo stopped; nothing left running.\n');
  }
}

async function waitForRunning(hub: Hub, signal: AbortSignal): Promise<void> {
  const isRunning = () => hub.service.listServers().some((s) => s.id === SERVER_ID && s.state === 'running');
  if (isRunning()) return;
  await new Promise<void>((resolve) => {
    const onServer = () => { if (isRunning()) done(); };
    const done = () => {
      hub.service.off('server', onServer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    hub.service.on('server', onServer);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The agent.yaml the demo would write: one managed ARK server played by the simulator. */
async function demoAgentConfig(dir: string, hubUrl: string, token: string, steam: DemoSteam): Promise<AgentConfig> {
  const [gamePort, queryPort, rconPort] = [await freePort(), await freePort(), await freePort()];
  const rconPassword = randomBytes(12).toString('hex');
  const tsx = import.meta.resolve('tsx');
  const raw = {
    id: 'demo-agent',
    hub: { url: hubUrl, token },
    dataDir: path.join(dir, 'agent'),
    steamcmd: { path: STEAMCMD_STAND_IN, appCacheDir: steam.appCacheDir, retryDelayMs: 1000 },
    servers: [{
      id: SERVER_ID,
      game: 'ark',
      name: 'Demo ARK (simulated)',
      gamePort,
      query: { host: '127.0.0.1', port: queryPort },
      rcon: { host: '127.0.0.1', port: rconPort, password: rconPassword },
      installDir: steam.installDir,
      saveDir: path.join(dir, 'world'),
      update: { policy: 'auto', check: '*/10 * * * * *', warnAt: [0.25], waitForEmptyMinutes: 0 },
      start: {
        command: process.execPath,
        args: ['--import', tsx, simMainPath, '--game', 'ark', '--game-port', String(gamePort), '--query-port', String(queryPort),
          '--rcon-port', String(rconPort), '--control-port', 'none', '--rcon-password', rconPassword, '--save-dir', path.join(dir, 'world'),
          '--players', 'Alice,Bob,Chen', '--max-players', '20', '--build-file', path.join(steam.installDir, 'reconsync-sim-build.json'), '--quiet'],
        cwd: dir,
      },
      restart: { onCrash: true, maxPerHour: 5, backoffMs: 1000 },
      health: { intervalMs: 1000, startGraceMs: 20_000, failures: 3, queryTimeoutMs: 1500 },
      stop: { timeoutMs: 10_000 },
      backup: { schedule: '*/5 * * * *', keep: { last: 5, daily: 0, weekly: 0 }, destinations: ['local'], settleMs: 300 },
    }],
  };
  return resolveAgentPaths({ ...AgentConfigSchema.parse(raw), configDir: dir, configFile: path.join(dir, 'agent.yaml') });
}
