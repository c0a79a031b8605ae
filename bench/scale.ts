/**
 * The hub at scale, each figure from a hub in its own process and simulated
 * agents in others (bench/sim-agents.ts):
 *  - hub RSS per connected agent (10,000 agents, delta over the idle hub),
 *  - one `agent.ping` to each of 5,000 agents at once (after a warm-up round),
 *  - reconnect storm: the hub restarts on the same port and every agent comes
 *    back through the real agent's full-jitter backoff.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '../hub/tokens.ts';
import { Store } from '../hub/store/index.ts';
import type { FanoutResult, HubStats, RawFanoutResult } from './hub-proc.ts';
import { BenchChild } from './ipc.ts';
import type { SimStats, SimTokens } from './sim-agents.ts';
import { median, note, until } from './stats.ts';
import { errorMessage } from '../lib/error-message.ts';

export interface ScaleOptions {
  agents: number;
  fanoutAgents: number;
  /** Measured fan-out rounds after the warm-up round. */
  fanoutRounds: number;
  agentsPerProcess: number;
  backoff: { baseMs: number; capMs: number; healthyResetMs: number };
  /** Idle time after everyone connected, before the RSS reading. */
  settleMs: number;
  connectTimeoutMs: number;
  stormTimeoutMs: number;
}

export const DefaultScaleOptions = {
  agents: 10_000,
  fanoutAgents: 5_000,
  fanoutRounds: 5,
  agentsPerProcess: 5_000,
  backoff: { baseMs: 1_000, capMs: 60_000, healthyResetMs: 60_000 },
  settleMs: 3_000,
  connectTimeoutMs: 180_000,
  stormTimeoutMs: 240_000,
} satisfies ScaleOptions;

export interface ScaleResult {
  /** Open-file limit of the hub and simulator processes (the soft limit raised to the hard one). */
  fdLimit: number | null;
  agentsWanted: number;
  agentsConnected: number;
  limitedBy: string | null;
  tokensCreateMs: number;
  connectAllS: number;
  hubRssIdleMib: number;
  hubRssLoadedMib: number;
  hubRssPerAgentKib: number;
  hubHeapPerAgentKib: number;
  simRssPerAgentKib: number;
  fanoutAgents: number;
  fanoutFirstMs: number;
  fanoutMs: number;
  fanoutRoundsMs: number[];
  /** Median hub CPU time per measured round. */
  fanoutHubCpuMs: number;
  fanoutFailures: number;
  /** The same fan-out over bare `ws` connections from the same simulators (no RPC layer): median of the measured rounds. */
  fanoutRawMs: number;
  fanoutRawRoundsMs: number[];
  fanoutRawHubCpuMs: number;
  /** Why there is no raw figure (fd limit), else null. */
  fanoutRawSkipped: string | null;
  stormS: number | null;
  stormHubDownS: number | null;
  stormRefusals: Record<string, number>;
  stormFailedAttempts: number;
  stormError: string | null;
}

/** Soft and hard `ulimit -n` (node has no getrlimit); null where there is no sh. */
export function fdLimits(): { soft: number; hard: number } | null {
  try {
    const [soft, hard] = execFileSync('/bin/sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).trim().split('\n').map((v) => (v.trim() === 'unlimited' ? 1_048_576 : Number(v)));
    return soft && hard ? { soft, hard } : null;
  } catch {
    return null;
  }
}

const MiB = 1024 * 1024;
/** File descriptors a process needs besides its sockets (stdio, IPC, SQLite, node internals). */
const FD_HEADROOM = 200;

export async function measureScale(options: Partial<ScaleOptions> = {}): Promise<ScaleResult> {
  const opts = { ...DefaultScaleOptions, ...options };
  const limits = fdLimits();
  const limit = limits?.hard ?? null;
  // Children get the soft limit raised to the hard one; beyond that only root could go.
  const childFd = limits && limits.soft < limits.hard ? { fdLimit: limits.hard } : {};
  let agents = opts.agents;
  let limitedBy: string | null = null;
  // The hub holds one socket per agent; each simulator process holds agentsPerProcess.
  if (limit !== null && agents + FD_HEADROOM > limit) {
    agents = Math.max(0, limit - FD_HEADROOM);
    limitedBy = `the hard fd limit (ulimit -Hn) is ${limit}: the hub process needs one fd per agent plus ~${FD_HEADROOM}`;
  }
  const perProcess = limit !== null ? Math.min(opts.agentsPerProcess, limit - FD_HEADROOM) : opts.agentsPerProcess;

  const root = await mkdtemp(join(tmpdir(), 'rs-bench-scale-'));
  const dataDir = join(root, 'hub');
  const children: BenchChild[] = [];
  try {
    // 1. Tokens, minted through hub/tokens.ts, all in one transaction (createToken's own becomes a savepoint).
    const t0 = performance.now();
    const store = Store.open(dataDir);
    const ids = Array.from({ length: agents }, (_, i) => `sim-${String(i).padStart(5, '0')}`);
    let tokens: SimTokens;
    try {
      tokens = { agents: store.transaction(() => ids.map((id) => ({ id, token: createToken(store, id) }))) };
    } finally {
      store.close();
    }
    const tokensCreateMs = performance.now() - t0;
    const tokensFile = join(root, 'tokens.json');
    await writeFile(tokensFile, JSON.stringify(tokens));
    note(`minted ${agents} tokens in ${tokensCreateMs.toFixed(0)} ms (one transaction)`);

    // 2. The hub, idle.
    // BENCH_HUB_NODE_FLAGS: e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to see where the hub spends its time.
    const hubFlags = ['--expose-gc', ...(process.env.BENCH_HUB_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
    let hub = new BenchChild('hub', new URL('./hub-proc.ts', import.meta.url), [dataDir, '0'], { nodeFlags: hubFlags, ...childFd });
    children.push(hub);
    const ready = await hub.event<{ port: number; url: string }>('ready', 30_000);
    const idle = await hub.call<HubStats>('stats');

    // 3. Simulated agents, several processes.
    const env = {
      BENCH_BACKOFF_BASE_MS: String(opts.backoff.baseMs),
      BENCH_BACKOFF_CAP_MS: String(opts.backoff.capMs),
      BENCH_BACKOFF_HEALTHY_MS: String(opts.backoff.healthyResetMs),
    };
    const sims: BenchChild[] = [];
    for (let from = 0; from < agents; from += perProcess) {
      const to = Math.min(agents, from + perProcess);
      const sim = new BenchChild(`sim[${from}..${to})`, new URL('./sim-agents.ts', import.meta.url), [ready.url, tokensFile, String(from), String(to)], { env, ...childFd });
      sims.push(sim);
      children.push(sim);
    }
    await Promise.all(sims.map((s) => s.event('ready', 30_000)));
    const c0 = performance.now();
    note(`connecting ${agents} simulated agents from ${sims.length} process(es)…`);
    const simStats = await Promise.all(sims.map((s) => s.call<SimStats>('connectAll', { timeoutMs: opts.connectTimeoutMs }, opts.connectTimeoutMs + 5_000)));
    await hub.call('waitConnected', { n: agents, timeoutMs: 30_000 }, 35_000);
    const connectAllS = (performance.now() - c0) / 1000;
    note(`all ${agents} connected in ${connectAllS.toFixed(1)} s; settling ${opts.settleMs} ms`);

    // 4. RSS with everyone connected and idle.
    await new Promise((r) => setTimeout(r, opts.settleMs));
    const loaded = await hub.call<HubStats>('stats');
    const simRss = simStats.reduce((sum, s) => sum + s.rss, 0);

    // 5. Fan-out: one RPC to each of the first fanoutAgents, all at once; beside it the
    // baseline, the same number of bare ws connections from the same simulator processes
    // to a bare ws server in the hub process. Rounds alternate, so machine noise hits both.
    const fanIds = ids.slice(0, Math.min(opts.fanoutAgents, agents));
    let fanoutRawSkipped: string | null = null;
    if (limit !== null && agents + fanIds.length + FD_HEADROOM > limit) {
      fanoutRawSkipped = `the hard fd limit (${limit}) leaves no room for ${fanIds.length} more sockets in the hub process`;
    } else {
      const rawUrl = (await hub.call<{ url: string }>('rawListen')).url;
      await Promise.all(sims.map((sim, k) => {
        const from = k * perProcess;
        const count = Math.max(0, Math.min(from + perProcess, fanIds.length) - from);
        return count ? sim.call('rawConnect', { url: rawUrl, count }, 120_000) : Promise.resolve(0);
      }));
      await until(async () => (await hub.call<number>('rawConnected')) >= fanIds.length, 30_000, `${fanIds.length} raw ws connections`, 50);
    }
    note(`fan-out to ${fanIds.length} agents: 1 warm-up + ${opts.fanoutRounds} rounds${fanoutRawSkipped ? '' : ', alternating with the raw ws baseline'}`);
    const fan: FanoutResult = { roundsMs: [], cpuMs: [], failures: 0, firstError: null };
    const rawFan: RawFanoutResult = { roundsMs: [], cpuMs: [], missing: 0 };
    for (let r = 0; r < 1 + opts.fanoutRounds; r++) {
      const one = await hub.call<FanoutResult>('fanout', { agentIds: fanIds, rounds: 1 }, 300_000);
      fan.roundsMs.push(...one.roundsMs);
      fan.cpuMs.push(...one.cpuMs);
      fan.failures += one.failures;
      fan.firstError ??= one.firstError;
      if (fanoutRawSkipped) continue;
      const rawOne = await hub.call<RawFanoutResult>('rawFanout', { rounds: 1, timeoutMs: 30_000 }, 60_000);
      rawFan.roundsMs.push(...rawOne.roundsMs);
      rawFan.cpuMs.push(...rawOne.cpuMs);
      rawFan.missing += rawOne.missing;
    }
    if (rawFan.missing) fanoutRawSkipped = `${rawFan.missing} raw replies missing`;
    if (!fanoutRawSkipped) {
      await Promise.all(sims.map((sim) => sim.call('rawClose')));
      await hub.call('rawClose');
    }

    // 6. Reconnect storm: stop the hub (it closes every session, 1001), start a new one on the same port.
    let stormS: number | null = null;
    let stormHubDownS: number | null = null;
    let stormError: string | null = null;
    await Promise.all(sims.map((s) => s.call('resetCounters')));
    note(`reconnect storm: restarting the hub with ${agents} agents attached`);
    const s0 = Date.now();
    try {
      await hub.call('close', {}, 30_000);
      const closedAt = Date.now();
      await hub.stop();
      note(`old hub closed in ${((closedAt - s0) / 1000).toFixed(1)} s, exited after ${((Date.now() - s0) / 1000).toFixed(1)} s`);
      hub = new BenchChild('hub2', new URL('./hub-proc.ts', import.meta.url), [dataDir, String(ready.port)], { nodeFlags: hubFlags, ...childFd });
      children.push(hub);
      await hub.event('ready', 30_000);
      stormHubDownS = (Date.now() - s0) / 1000;
      note(`new hub ready after ${stormHubDownS.toFixed(1)} s`);
      const allBack = await hub.call<number>('waitConnected', { n: agents, timeoutMs: opts.stormTimeoutMs }, opts.stormTimeoutMs + 5_000);
      stormS = (allBack - s0) / 1000;
    } catch (err) {
      stormError = errorMessage(err).split('\n')[0] ?? String(err);
    }
    const after = await Promise.all(sims.map((s) => s.call<SimStats>('stats')));
    const stormRefusals: Record<string, number> = {};
    for (const s of after) for (const [k, v] of Object.entries(s.refusals)) stormRefusals[k] = (stormRefusals[k] ?? 0) + v;

    const measured = fan.roundsMs.slice(1);
    return {
      fdLimit: limit,
      agentsWanted: opts.agents,
      agentsConnected: loaded.connected,
      limitedBy,
      tokensCreateMs,
      connectAllS,
      hubRssIdleMib: idle.rss / MiB,
      hubRssLoadedMib: loaded.rss / MiB,
      hubRssPerAgentKib: (loaded.rss - idle.rss) / loaded.connected / 1024,
      hubHeapPerAgentKib: (loaded.heapUsed - idle.heapUsed) / loaded.connected / 1024,
      simRssPerAgentKib: simRss / agents / 1024,
      fanoutAgents: fanIds.length,
      fanoutFirstMs: fan.roundsMs[0] ?? Number.NaN,
      fanoutMs: median(measured),
      fanoutRoundsMs: measured,
      fanoutHubCpuMs: median(fan.cpuMs.slice(1)),
      fanoutFailures: fan.failures,
      fanoutRawMs: fanoutRawSkipped ? Number.NaN : median(rawFan.roundsMs.slice(1)),
      fanoutRawRoundsMs: rawFan.roundsMs.slice(1),
      fanoutRawHubCpuMs: fanoutRawSkipped ? Number.NaN : median(rawFan.cpuMs.slice(1)),
      fanoutRawSkipped,
      stormS,
      stormHubDownS,
      stormRefusals,
      stormFailedAttempts: after.reduce((sum, s) => sum + s.failedAttempts, 0),
      stormError,
    };
  } finally {
    await Promise.all(
      children.map(async (c) => {
        await c.call('close', {}, 15_000).catch(() => undefined);
        await c.stop(5_000);
      }),
    );
    await rm(root, { recursive: true, force: true });
  }
}
