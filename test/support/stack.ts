// A whole ReconSync on loopback for end-to-end tests: a real hub (in-process),
// a real agent (in-process, or a child process through the CLI), and
// simulated game servers as real child processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { waitFor } from './wait.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startHub as startHubWith, type Hub, type HubDeps } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import { AgentConfigSchema, resolveAgentPaths, type AgentConfig, type AgentConfigInput } from '../../agent/config.ts';
import { createAgent, type Agent, type AgentDeps } from '../../agent/agent.ts';
import { simMainPath } from '../../sim/index.ts';
import { freePort } from '../../demo/ports.ts';

export const API_TOKEN = 'e2e-api-token-0123456789abcdef';
export const tsxImport = import.meta.resolve('tsx');
export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const cliPath = path.join(repoRoot, 'bin', 'reconsync.js');

export interface CliRun { code: number; stdout: string; stderr: string }

/**
 * Runs the real `reconsync` CLI in its own process and collects its exit code and output
 * (-1 when it did not exit by itself, e.g. ended by the 30 s timeout). `env` is laid over
 * this process's environment; by default only warnings are logged.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn' }): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { timeout: 30_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

export async function tempDir(prefix = 'reconsync-e2e-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true, maxRetries: 3 }) };
}

export { waitFor, type Truthy } from './wait.ts';

export async function api<T = unknown>(hub: { url: string }, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${hub.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${API_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

export async function startHub(dataDir: string, extra: Partial<HubDeps> = {}): Promise<Hub> {
  return startHubWith({ config: { listen: { host: '127.0.0.1', port: 0 }, dataDir, api: { token: API_TOKEN } }, ...extra });
}

export interface SimPorts { game: number; query: number; rcon: number }

/** Fixed free ports for a sim, so the agent config can name them before the game runs. */
export async function simPorts(): Promise<SimPorts> {
  return { game: await freePort(), query: await freePort(), rcon: await freePort() };
}

/** The argv that starts a sim as its own process (what an agent's `start:` runs). */
export function simArgs(game: string, ports: SimPorts, saveDir: string, extra: string[] = []): string[] {
  return ['--import', tsxImport, simMainPath, '--game', game, '--game-port', String(ports.game), '--query-port', String(ports.query),
    '--rcon-port', String(ports.rcon), '--control-port', 'none', '--rcon-password', 'sim-secret', '--save-dir', saveDir, '--quiet', ...extra];
}

export interface RunningSim { child: ChildProcess; pid: number; ports: SimPorts; stop(): Promise<void> }

/** A sim the agent did not start (a watched server). Resolves when it answers. */
export async function spawnSim(game: string, ports: SimPorts, saveDir: string, extra: string[] = []): Promise<RunningSim> {
  const portFile = path.join(path.dirname(saveDir), `${path.basename(saveDir)}.ready.json`);
  const child = spawn(process.execPath, [...simArgs(game, ports, saveDir, ['--port-file', portFile, ...extra])], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(async () => JSON.parse(await readFile(portFile, 'utf8')) as unknown, 15_000, `${game} sim to start`);
  return {
    child, pid: child.pid!, ports,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** An agent config from a plain object, as if read from agent.yaml in `dir`. */
export function agentConfig(dir: string, raw: Omit<AgentConfigInput, 'dataDir'> & { dataDir?: string }): AgentConfig {
  const parsed = AgentConfigSchema.parse({ dataDir: path.join(dir, 'agent-data'), ...raw });
  return resolveAgentPaths({ ...parsed, configDir: dir, configFile: path.join(dir, 'agent.yaml') });
}

export interface Stack {
  dir: string;
  hub: Hub;
  token: string;
  agent: Agent;
  close(): Promise<void>;
}

/** Hub + agent in-process; `servers` are the agent's server entries (their sims are the caller's business). */
export async function startStack(dir: string, servers: AgentConfigInput['servers'], opts: { agentId?: string; agent?: Partial<AgentDeps>; hub?: Partial<HubDeps>; config?: Partial<AgentConfigInput> } = {}): Promise<Stack> {
  const hub = await startHub(path.join(dir, 'hub-data'), opts.hub);
  const agentId = opts.agentId ?? 'e2e-agent';
  const token = createToken(hub.store, agentId);
  const config = agentConfig(dir, { ...opts.config, id: agentId, hub: { url: hub.agentUrl, token }, servers });
  const agent = await createAgent({ config, ...opts.agent });
  return {
    dir, hub, token, agent,
    async close() {
      for (const u of agent.units.values()) if (u.supervisor.managed && u.supervisor.state !== 'stopped') await u.supervisor.stop().catch(() => undefined);
      await agent.close();
      await hub.close();
    },
  };
}
