// Issue 11 §6: an agent killed (SIGKILL) in the middle of an update, and a hub that is down
// during an automatic update. Real hub, real agent processes, the SteamCMD stand-in, a simulated ARK.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import type { UpdateInfo } from '../../protocol/index.ts';
import type { ServerView } from '../../hub/service/types.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import { loadAgentConfig } from '../../agent/config.ts';
import { createAgent, type Agent } from '../../agent/agent.ts';
import { silentLogger } from '../../lib/logger.ts';
import { installBuild } from '../../agent/update/install.ts';
import { SteamCmd } from '../../agent/update/steamcmd.ts';
import { freePort } from '../../demo/ports.ts';
import { API_TOKEN, api, cliPath, simArgs, simPorts, tempDir, waitFor } from '../support/stack.ts';
import { BUILD_MARKER, SteamCmdStandIn, standInProgram } from '../support/steamcmd/index.ts';

const ARK = 376030;

interface Setup { dir: string; standIn: SteamCmdStandIn; installDir: string; configFile: string; hubPort: number; cleanup(): Promise<void> }

async function setup(update: Record<string, unknown>): Promise<Setup> {
  const { dir, cleanup } = await tempDir('reconsync-update-recovery-');
  const standIn = new SteamCmdStandIn(dir);
  standIn.install();
  await standIn.write({ apps: { [ARK]: { branches: { public: { buildid: '100' } } } } });
  const installDir = path.join(dir, 'ark');
  const saveDir = path.join(installDir, 'ShooterGame', 'Saved', 'SavedArks');
  const steam = new SteamCmd({ path: standInProgram, os: 'linux', appCacheDir: standIn.appCacheDir, timeoutMs: 30_000, infoTimeoutMs: 30_000, logger: silentLogger });
  assert.equal((await installBuild(steam, { appId: ARK, installDir, branch: 'public', validate: false, retries: 0, logger: silentLogger })).ok, true);
  const ports = await simPorts();
  const hubPort = await freePort();
  const configFile = path.join(dir, 'agent.yaml');
  await writeFile(configFile, stringify({
    id: 'box', hub: { url: `ws://127.0.0.1:${hubPort}/agent`, token: '${RECONSYNC_AGENT_TOKEN}' }, dataDir: './agent-data', logLevel: 'warn',
    steamcmd: { appCacheDir: standIn.appCacheDir, retries: 0, retryDelayMs: 10 },
    servers: [{
      id: 'ark', game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, installDir, saveDir,
      start: { command: process.execPath, args: simArgs('ark', ports, saveDir, ['--build-file', path.join(installDir, BUILD_MARKER)]) },
      health: { intervalMs: 200, startGraceMs: 60_000, failures: 2, queryTimeoutMs: 800 }, stop: { timeoutMs: 5000 },
      update: { policy: 'notify', check: '0 0 1 1 *', warnAt: [], waitForEmptyMinutes: 0, ...update },
    }],
  }));
  return { dir, standIn, installDir, configFile, hubPort, cleanup };
}

function startHubOn(s: Setup): Promise<Hub> {
  return startHub({ config: { listen: { host: '127.0.0.1', port: s.hubPort }, dataDir: path.join(s.dir, 'hub-data'), api: { token: API_TOKEN } } });
}

function agentProcess(s: Setup, token: string): ChildProcess {
  return spawn(process.execPath, [cliPath, 'agent', '--config', s.configFile], { env: { ...s.standIn.env(), RECONSYNC_AGENT_TOKEN: token }, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function inProcessAgent(s: Setup, token: string): Promise<Agent> {
  process.env.RECONSYNC_AGENT_TOKEN = token;
  // No jitter: the test's one-second check schedule must fire on time.
  return createAgent({ config: loadAgentConfig(s.configFile), update: { pollMs: 50, jitterMs: 0 } });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

const journalStep = async (s: Setup): Promise<string | null> => {
  const text = await readFile(path.join(s.dir, 'agent-data', 'updates', 'ark.json'), 'utf8').catch(() => '{}');
  return (JSON.parse(text) as { journal?: { step: string } | null }).journal?.step ?? null;
};
const view = async (hub: Hub) => (await api<ServerView>(hub, 'GET', '/api/v1/servers/ark')).body;
const updateInfo = async (hub: Hub) => (await api<UpdateInfo>(hub, 'GET', '/api/v1/servers/ark/update')).body;

/** SIGKILLs the agent once SteamCMD is running for the update (and the hung SteamCMD too, as systemd's control group would). */
async function killDuringDownload(s: Setup, agent: ChildProcess, runsBefore: number, extra: () => Promise<boolean> = async () => true): Promise<void> {
  const run = await waitFor(async () => {
    const runs = (await s.standIn.runs()).slice(runsBefore).filter((r) => r.argv.includes('+app_update'));
    return runs.length > 0 && (await journalStep(s)) === 'download' && (await extra()) && runs.at(-1);
  }, 30_000, 'the update to reach SteamCMD');
  await kill(agent);
  process.kill(run.pid, 'SIGKILL');
}

test('an agent killed mid-update: the next start puts the old build back (SteamCMD died half way) or finishes the update (the build was installed)', { timeout: 400_000 }, async () => {
  const s = await setup({});
  const hub = await startHubOn(s);
  const token = createToken(hub.store, 'box');
  let child: ChildProcess | undefined;
  let agent: Agent | undefined;
  try {
    child = agentProcess(s, token);
    await waitFor(async () => (await view(hub)).state === 'running' && (await view(hub)).version === '100', 60_000, 'ark running build 100');

    // 1. Killed while SteamCMD downloads: nothing complete was installed.
    await s.standIn.publish(ARK, '101');
    await s.standIn.fail({ kind: 'hang' });
    let runs = (await s.standIn.runs()).length;
    assert.equal((await api(hub, 'POST', '/api/v1/servers/ark/actions/update')).status, 202);
    await killDuringDownload(s, child, runs);
    child = agentProcess(s, token);
    const failed = await waitFor(async () => (await updateInfo(hub)).last?.outcome === 'failed' && (await updateInfo(hub)).last, 150_000, 'the interrupted update to end as failed');
    assert.equal(failed.step, 'download');
    assert.match(failed.message, /build 100 was put back/);
    await waitFor(async () => (await view(hub)).state === 'running' && (await view(hub)).version === '100', 30_000, 'ark running build 100 again');

    // 2. Killed after SteamCMD installed the new build, before the health check: the next agent finishes the update.
    await s.standIn.fail({ kind: 'hang', afterInstall: true });
    runs = (await s.standIn.runs()).length;
    assert.equal((await api(hub, 'POST', '/api/v1/servers/ark/actions/update')).status, 202);
    const manifest = path.join(s.installDir, 'steamapps', `appmanifest_${ARK}.acf`);
    await killDuringDownload(s, child, runs, async () => /"buildid"\s+"101"/.test(await readFile(manifest, 'utf8')));
    child = undefined;
    agent = await inProcessAgent(s, token);
    const done = await waitFor(async () => (await updateInfo(hub)).last?.outcome === 'updated' && (await updateInfo(hub)).last, 150_000, 'the interrupted update to be finished');
    assert.deepEqual([done.from, done.to], ['100', '101']);
    await waitFor(async () => (await view(hub)).state === 'running' && (await view(hub)).version === '101', 30_000, 'ark running build 101');
    // Cleared after the outcome is in the outbox (a crash in between must not lose it): soon after the hub has it.
    await waitFor(async () => (await journalStep(s)) === null, 20_000, 'the journal to be cleared');
  } finally {
    if (child) await kill(child);
    for (const u of agent?.units.values() ?? []) await u.supervisor.stop().catch(() => undefined);
    await agent?.close();
    await hub.close();
    await s.cleanup();
  }
});

test('the hub is down during an automatic update: the outcome and its alerts reach it when it is back', { timeout: 300_000 }, async () => {
  const s = await setup({ policy: 'auto', check: '*/1 * * * * *' });
  let hub = await startHubOn(s);
  const token = createToken(hub.store, 'box');
  let agent: Agent | undefined;
  try {
    agent = await inProcessAgent(s, token);
    await waitFor(async () => (await view(hub)).state === 'running' && (await view(hub)).version === '100', 60_000, 'ark running build 100');
    await hub.close();
    await s.standIn.publish(ARK, '101');
    const a = agent;
    await waitFor(async () => (await a.updater.status('ark')).last?.outcome === 'updated', 150_000, 'the automatic update while the hub is down');
    assert.equal(a.units.get('ark')!.supervisor.status().version, '101');
    hub = await startHubOn(s);
    const h = hub;
    const info = await waitFor(async () => {
      const r = await api<UpdateInfo>(h, 'GET', '/api/v1/servers/ark/update');
      return r.status === 200 && r.body.last?.outcome === 'updated' && r.body;
    }, 60_000, 'the outcome at the hub after it came back');
    assert.deepEqual([info.last!.from, info.last!.to], ['100', '101']);
    const kinds = hub.store.events.list('box').filter((e) => e.topic === 'alert').map((e) => (e.data as { kind: string }).kind);
    assert.ok(kinds.includes('update_available') && kinds.includes('update_ok'), `alerts delivered later: ${kinds.join(', ')}`);
    assert.ok(hub.store.audit.recent(20, 'ark').some((e) => e.action === 'update.completed' && e.actor.id === 'box'));
  } finally {
    for (const u of agent?.units.values() ?? []) await u.supervisor.stop().catch(() => undefined);
    await agent?.close();
    await hub.close();
    await s.cleanup();
  }
});
