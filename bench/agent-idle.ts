/**
 * Idle memory of a real agent process connected to a real hub (in this
 * process), watching one server (a simulated Valheim, also in this process,
 * answering A2S) without managing it. RSS is read from /proc after the agent
 * has connected and settled, sampled a few times (the highest reading counts).
 *
 * Two launchers, measured one after the other against the same hub:
 *  - `bundle`: the shipped agent (tools/bundle.ts → `node reconsync.js agent`),
 *    what operators run;
 *  - `source`: `node bin/reconsync.js agent` from a checkout, which registers
 *    tsx in-process (its loader thread alone costs ~30 MiB).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHub, type Hub } from '../hub/hub.ts';
import { createToken } from '../hub/tokens.ts';
import { startSimServer } from '../sim/index.ts';
import { memOf, until, type ProcMemory } from './stats.ts';
import { errorMessage } from '../lib/error-message.ts';

export interface AgentIdleOptions {
  /** Time after the agent is connected before the first reading. */
  settleMs: number;
  samples: number;
  sampleEveryMs: number;
}

export const DefaultAgentIdleOptions = { settleMs: 10_000, samples: 5, sampleEveryMs: 1_000 } satisfies AgentIdleOptions;

export interface AgentLauncher {
  label: string;
  /** node arguments before `agent --config <file>`. */
  nodeArgs: string[];
  cwd: string;
  /** Removes what the launcher built (the bundle's staging folder). */
  cleanup?: () => Promise<void>;
}

export type AgentIdleResult = { label: string; command: string } & ({ rssMib: number; anonMib: number; threads: number } | { error: string });

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const MiB = 1024 * 1024;

export const sourceLauncher: AgentLauncher = { label: 'source', nodeArgs: ['bin/reconsync.js'], cwd: repoRoot };

/** Builds the agent bundle into `dir` (tools/bundle.ts) and returns its launcher. */
export async function bundleLauncher(dir: string): Promise<AgentLauncher> {
  const { buildAgentBundle } = await import('../tools/bundle.ts');
  const built = await buildAgentBundle({ outDir: join(dir, 'dist'), keepStaging: true });
  if (!built.stagingDir) throw new Error('the bundle tool kept no staging folder');
  const stagingRoot = dirname(built.stagingDir);
  return {
    label: 'bundle',
    nodeArgs: [join(built.stagingDir, 'reconsync.js')],
    cwd: built.stagingDir,
    cleanup: () => rm(stagingRoot, { recursive: true, force: true }),
  };
}

export async function measureAgentIdle(launchers: (AgentLauncher | (() => Promise<AgentLauncher>))[], options: Partial<AgentIdleOptions> = {}): Promise<AgentIdleResult[]> {
  const opts = { ...DefaultAgentIdleOptions, ...options };
  const root = await mkdtemp(join(tmpdir(), 'rs-bench-agent-'));
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rm(root, { recursive: true, force: true })];
  try {
    const saveDir = join(root, 'worlds_local');
    await mkdir(saveDir, { recursive: true });
    const sim = await startSimServer({ game: 'valheim', saveDir, ports: { control: null } });
    cleanups.unshift(() => sim.close());
    const hub = await startHub({ config: { listen: { host: '127.0.0.1', port: 0 }, dataDir: join(root, 'hub'), api: { token: 'bench-api-token-0123456789abcdef' } } });
    cleanups.unshift(() => hub.close());
    const results: AgentIdleResult[] = [];
    for (const [i, l] of launchers.entries()) {
      let launcher: AgentLauncher;
      try {
        launcher = typeof l === 'function' ? await l() : l;
      } catch (err) {
        results.push({ label: 'bundle', command: '(bundle build failed)', error: errorMessage(err).split('\n')[0] ?? String(err) });
        continue;
      }
      const agentId = `bench-idle-${i}`;
      const config = join(root, `agent-${i}.yaml`);
      await writeFile(
        config,
        [
          `id: ${agentId}`,
          `hub: { url: "${hub.agentUrl}", token: "${createToken(hub.store, agentId)}" }`,
          `dataDir: ${JSON.stringify(join(root, `agent-data-${i}`))}`,
          'logLevel: warn',
          'servers:',
          '  - id: valheim-watch',
          '    game: valheim',
          `    gamePort: ${sim.ports.game}`,
          `    query: { host: 127.0.0.1, port: ${sim.ports.query} }`,
          `    installDir: ${JSON.stringify(root)}`,
          `    saveDir: ${JSON.stringify(saveDir)}`,
          '',
        ].join('\n'),
      );
      const args = [...launcher.nodeArgs, 'agent', '--config', config];
      const command = `node ${args.join(' ')}`;
      try {
        const mem = await idleMemory(hub, agentId, launcher.cwd, args, opts);
        results.push({ label: launcher.label, command, rssMib: mem.rss / MiB, anonMib: mem.anon / MiB, threads: mem.threads });
      } catch (err) {
        results.push({ label: launcher.label, command, error: errorMessage(err) });
      } finally {
        await launcher.cleanup?.();
      }
    }
    return results;
  } finally {
    for (const c of cleanups) await c();
  }
}

async function idleMemory(hub: Hub, agentId: string, cwd: string, args: string[], opts: AgentIdleOptions): Promise<ProcMemory> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    if (process.env.BENCH_AGENT_STDERR) process.stderr.write(d); // debugging aid
    if (stderr.length < 4000) stderr += d;
  });
  const tail = () => (stderr ? `; agent stderr: ${stderr.trim().slice(0, 500)}` : '');
  try {
    await until(() => {
      if (child.exitCode !== null) throw new Error(`agent exited (${child.exitCode}) before connecting${tail()}`);
      return hub.link.registry.get(agentId)?.open;
    }, 30_000, `agent ${agentId} to connect to the hub`).catch((err: Error) => {
      throw new Error(`${err.message.includes('agent stderr') ? err.message : err.message + tail()}`);
    });
    await new Promise((r) => setTimeout(r, opts.settleMs));
    let peak: ProcMemory | null = null;
    for (let i = 0; i < opts.samples; i++) {
      if (i) await new Promise((r) => setTimeout(r, opts.sampleEveryMs));
      const m = memOf(child.pid!);
      if (m && (!peak || m.rss > peak.rss)) peak = m;
    }
    if (!peak) throw new Error('could not read the agent memory from /proc');
    if (!hub.link.registry.get(agentId)?.open) throw new Error(`the agent lost its hub link while idle${tail()}`);
    return peak;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    }
  }
}
