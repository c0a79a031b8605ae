// Shared setup for the fault-injection suites: a real hub, a TCP proxy in front
// of it, a real agent (in-process, or a child process through the CLI) dialing
// the proxy, and a simulated ARK server as its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { createAgent, type Agent, type AgentDeps } from '../../agent/agent.ts';
import type { AgentConfigInput } from '../../agent/config.ts';
import { startHub, type Hub, type HubDeps } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import type { BackupRecord } from '../../protocol/index.ts';
import { agentConfig, API_TOKEN, cliPath, simPorts, spawnSim, type RunningSim, type SimPorts } from '../support/stack.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait.ts';

export const SERVER_ID = 'ark';
export const AGENT_ID = 'fault-agent';
export const RCON_PASSWORD = 'sim-secret';

/** Fast link timing for every fault test: pings every 100 ms, dead after 800 ms of silence, reconnect within ~200 ms. */
export const FAST_LINK = { heartbeatMs: 100, deadAfterMs: 800, backoff: { baseMs: 50, capMs: 200 }, openTimeoutMs: 2000, welcomeTimeoutMs: 2000 } as const;
export const FAST_HUB = { heartbeatMs: 100, deadAfterMs: 800 } as const;

export type ServerEntry = NonNullable<AgentConfigInput['servers']>[number];

export function hubConfig(dataDir: string, port = 0): HubDeps['config'] {
  return { listen: { host: '127.0.0.1', port }, dataDir, api: { token: API_TOKEN } };
}

export async function startFastHub(dataDir: string, port = 0, extra: Partial<HubDeps> = {}): Promise<Hub> {
  return startHub({ config: hubConfig(dataDir, port), ...FAST_HUB, ...extra });
}

/** The ARK server entry as an agent watches it (the sim runs on its own, not started by the agent). */
export function arkEntry(ports: SimPorts, world: string, backup: Partial<NonNullable<ServerEntry['backup']>> = {}): ServerEntry {
  return {
    id: SERVER_ID, game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
    rcon: { host: '127.0.0.1', port: ports.rcon, password: RCON_PASSWORD }, saveDir: world,
    health: { intervalMs: 300, startGraceMs: 1000, failures: 3, queryTimeoutMs: 1000 },
    backup: { destinations: ['local'], keep: { last: 10, daily: 0, weekly: 0 }, settleMs: 200, settleTimeoutMs: 20_000, ...backup },
  };
}

export interface FaultStack {
  dir: string;
  hub: Hub;
  proxy: TcpProxy;
  agent: Agent;
  token: string;
  sim: RunningSim;
  world: string;
  ports: SimPorts;
  /** Closes the agent and stops the hub, proxy and sim (the current hub: tests may have replaced it). */
  close(): Promise<void>;
}

export interface FaultStackOptions {
  /** Extra sim flags, e.g. a slow save. */
  simArgs?: string[];
  backup?: Partial<NonNullable<ServerEntry['backup']>>;
  agent?: Partial<AgentDeps>;
  rclone?: AgentConfigInput['rclone'];
}

/** Hub ← proxy ← in-process agent, and a running ARK sim the agent watches. Resolves once the agent is online and the server running. */
export async function startFaultStack(dir: string, opts: FaultStackOptions = {}): Promise<FaultStack> {
  const world = path.join(dir, 'ark-world');
  const ports = await simPorts();
  const sim = await spawnSim('ark', ports, world, opts.simArgs ?? []);
  const stack: Partial<FaultStack> & { dir: string; sim: RunningSim; world: string; ports: SimPorts } = { dir, sim, world, ports };
  try {
    stack.hub = await startFastHub(path.join(dir, 'hub-data'));
    stack.proxy = await TcpProxy.start({ targetPort: stack.hub.port });
    stack.token = createToken(stack.hub.store, AGENT_ID);
    const config = agentConfig(dir, {
      id: AGENT_ID, hub: { url: stack.proxy.agentUrl, token: stack.token }, servers: [arkEntry(ports, world, opts.backup)],
      ...(opts.rclone ? { rclone: opts.rclone } : {}),
    });
    stack.agent = await createAgent({ config, link: FAST_LINK, ...opts.agent });
  } catch (err) {
    await stack.agent?.close();
    await stack.proxy?.close();
    await stack.hub?.close();
    await sim.stop();
    throw err;
  }
  const s = stack as FaultStack;
  s.close = async () => {
    await s.agent.close();
    await s.proxy.close();
    await s.hub.close();
    await s.sim.stop();
  };
  await waitFor(() => s.hub.service.listServers().find((v) => v.id === SERVER_ID && v.state === 'running'), 20_000, 'the ark server running at the hub');
  return s;
}

export { waitFor };

/** Settles a promise into a value or its error, so a test can look at the code and the time it took. */
export async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T; at: number } | { ok: false; error: Error & { code?: string }; at: number }> {
  try {
    const value = await p;
    return { ok: true, value, at: Date.now() };
  } catch (error) {
    return { ok: false, error: error as Error & { code?: string }, at: Date.now() };
  }
}

/** Rejects when the deadline passes first: a call that never settles fails the test instead of hanging it. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hang)`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** backup.completed records the hub stored for a backup id (the record-event log, deduplicated by seq). */
export function completedRecords(hub: Hub, agentId: string, backupId: string): number {
  return hub.store.events.list(agentId).filter((e) => e.topic === 'backup.completed' && (e.data as BackupRecord).id === backupId).length;
}

/** sha256 of each named file (relative to root); a missing file hashes as "missing". */
export async function hashFiles(root: string, rels: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of rels) {
    out[rel] = await readFile(path.join(root, rel)).then((b) => createHash('sha256').update(b).digest('hex'), () => 'missing');
  }
  return out;
}

/** Every file below dir, relative, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

// ---- the agent as a child process (kill -9 tests) --------------------------------------------------

export interface AgentChild {
  child: ChildProcess;
  /** What the agent wrote to stderr (for failure messages). */
  stderr(): string;
  /** Resolves when the process has exited (for whatever reason). */
  exited(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** Writes agent.yaml in dir (the token stays in the environment, as an operator would do it). */
export async function writeAgentYaml(dir: string, hubUrl: string, servers: ServerEntry[], extra: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(dir, 'agent.yaml');
  const doc = { id: AGENT_ID, hub: { url: hubUrl, token: '${RECONSYNC_AGENT_TOKEN}' }, dataDir: './agent-data', logLevel: 'warn', servers, ...extra };
  await writeFile(file, stringify(doc));
  return file;
}

/**
 * `node bin/reconsync.js agent --config <file>` with the token in RECONSYNC_AGENT_TOKEN.
 * `prefix` runs it through another command that ends in exec (e.g. unshare + mount).
 */
export function startAgentChild(configFile: string, token: string, prefix: string[] = []): AgentChild {
  const argv = [...prefix, process.execPath, cliPath, 'agent', '--config', configFile];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, RECONSYNC_AGENT_TOKEN: token, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-20_000);
  });
  const exited = once(child, 'exit');
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    stderr: () => err,
    exited: async () => {
      await exited;
    },
    async kill9() {
      if (gone()) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (gone()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
