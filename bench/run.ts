/**
 * `npm run bench`: prints `name: value` lines on stdout (progress on stderr).
 * Every figure is measured in this run next to its baseline; see
 * bench/README.md for what each one means and the figures we got.
 *
 * Knobs (environment):
 *   BENCH_ONLY=latency,agent,scale,backup   run only these phases
 *   BENCH_AGENTS=10000  BENCH_FANOUT=5000   scale of the hub phases
 *   BENCH_BACKOFF_BASE_MS=1000  BENCH_BACKOFF_CAP_MS=60000   simulated agents' reconnect backoff
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleLauncher, measureAgentIdle, sourceLauncher, type AgentIdleResult } from './agent-idle.ts';
import { measureLatency } from './latency.ts';
import { DefaultScaleOptions, measureScale } from './scale.ts';
import { note, report, round } from './stats.ts';

// Fan-out is a ratio against bare ws in the same run: an absolute time does not carry between machines.
const TARGETS = {
  rpc_overhead_ratio: { max: 1.5 },
  fanout_vs_raw_ratio: { max: 1.5 },
  hub_rss_per_agent_kib: { max: 16 },
  reconnect_storm_s: { max: 30 },
  agent_idle_rss_mib: { max: 64 },
  backup_vs_zstd_ratio: { max: Number.POSITIVE_INFINITY, min: 1.0 },
} as const satisfies Record<string, { max: number; min?: number }>;

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const phases = new Set((process.env.BENCH_ONLY ?? 'latency,agent,scale,backup').split(',').map((s) => s.trim()));
const envInt = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number.parseInt(v, 10);
};

const results = new Map<string, number>();
const failures: string[] = [];
/** Prints a figure and keeps numbers for the target summary. */
function figure(name: string, value: number | string, digits = 1): void {
  if (typeof value === 'number') {
    results.set(name, value);
    report(name, Number.isFinite(value) ? round(value, digits) : 'n/a');
  } else {
    report(name, value);
  }
}

async function phase(name: string, keys: string[], fn: () => Promise<void>): Promise<void> {
  if (!phases.has(name)) return;
  const t0 = performance.now();
  note(`phase ${name}…`);
  try {
    await fn();
  } catch (err) {
    failures.push(`${name}: ${(err as Error).stack ?? String(err)}`);
    for (const k of keys) if (!results.has(k)) report(k, 'n/a');
  }
  note(`phase ${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

function machine(): void {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  report('machine_nproc', os.availableParallelism());
  report('machine_cpu', cpu.trim());
  report('machine_node', process.version);
  report('machine_loadavg_1m', round(os.loadavg()[0] ?? 0, 2));
}

async function runBackupBench(): Promise<void> {
  const script = join(repoRoot, 'bench', 'backup.ts');
  if (!existsSync(script)) {
    note('bench/backup.ts is not there; skipping the backup figures');
    return;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      process.stdout.write(`${line}\n`);
      // Keep the figures for the target summary (backup_vs_zstd_ratio).
      const m = /^(\w+): (-?[\d.]+)$/.exec(line.trim());
      if (m) results.set(m[1]!, Number(m[2]));
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (buffered.trim()) process.stdout.write(`${buffered}\n`);
  if (code !== 0) throw new Error(`bench/backup.ts exited with ${code}`);
}

machine();

await phase('latency', ['ws_echo_p50_us', 'rpc_p50_us', 'rpc_p99_us', 'rpc_overhead_ratio'], async () => {
  const r = await measureLatency();
  figure('ws_echo_p50_us', r.echoP50Us);
  figure('ws_echo_p99_us', r.echoP99Us);
  figure('rpc_p50_us', r.rpcP50Us);
  figure('rpc_p99_us', r.rpcP99Us);
  figure('rpc_overhead_ratio', r.rpcP50Us / r.echoP50Us, 2);
  figure('rpc_samples', r.samples, 0);
});

await phase('agent', ['agent_idle_rss_mib'], async () => {
  const dir = await mkdtemp(join(os.tmpdir(), 'rs-bench-bundle-'));
  try {
    const [bundle, source] = await measureAgentIdle([() => bundleLauncher(dir), sourceLauncher]);
    const show = (r: AgentIdleResult | undefined, prefix: string) => {
      if (!r) return;
      if ('error' in r) {
        failures.push(`agent idle (${r.label}): ${r.error}`);
        report(`${prefix}_mib`, 'n/a');
        return;
      }
      figure(`${prefix}_mib`, r.rssMib);
      figure(`${prefix}_anon_mib`, r.anonMib);
      note(`${r.label}: ${r.command} (${r.threads} threads)`);
    };
    // The shipped agent is the bundle; from a source checkout tsx's loader thread comes on top.
    show(bundle, 'agent_idle_rss');
    show(source, 'agent_idle_rss_source');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

await phase('scale', ['agents_connected', 'hub_rss_per_agent_kib', 'fanout_5000_ms', 'reconnect_storm_s'], async () => {
  const backoff = {
    ...DefaultScaleOptions.backoff,
    baseMs: envInt('BENCH_BACKOFF_BASE_MS', DefaultScaleOptions.backoff.baseMs),
    capMs: envInt('BENCH_BACKOFF_CAP_MS', DefaultScaleOptions.backoff.capMs),
  };
  const r = await measureScale({
    agents: envInt('BENCH_AGENTS', DefaultScaleOptions.agents),
    fanoutAgents: envInt('BENCH_FANOUT', DefaultScaleOptions.fanoutAgents),
    backoff,
  });
  report('fd_limit', r.fdLimit ?? 'unknown');
  if (r.limitedBy) report('agents_limited_by', r.limitedBy);
  figure('agents_connected', r.agentsConnected, 0);
  figure('agents_connect_all_s', r.connectAllS);
  figure('hub_rss_idle_mib', r.hubRssIdleMib);
  figure(`hub_rss_${r.agentsConnected}_agents_mib`, r.hubRssLoadedMib);
  figure('hub_rss_per_agent_kib', r.hubRssPerAgentKib, 2);
  figure('hub_heap_per_agent_kib', r.hubHeapPerAgentKib, 2);
  figure(`fanout_${r.fanoutAgents}_first_ms`, r.fanoutFirstMs);
  figure(`fanout_${r.fanoutAgents}_ms`, r.fanoutMs);
  figure(`fanout_${r.fanoutAgents}_hub_cpu_ms`, r.fanoutHubCpuMs);
  report(`fanout_${r.fanoutAgents}_rounds_ms`, r.fanoutRoundsMs.map((v) => round(v, 1)).join(' '));
  if (r.fanoutRawSkipped) report(`fanout_raw_${r.fanoutAgents}_ms`, `n/a (${r.fanoutRawSkipped})`);
  else {
    figure(`fanout_raw_${r.fanoutAgents}_ms`, r.fanoutRawMs);
    figure(`fanout_raw_${r.fanoutAgents}_hub_cpu_ms`, r.fanoutRawHubCpuMs);
    report(`fanout_raw_${r.fanoutAgents}_rounds_ms`, r.fanoutRawRoundsMs.map((v) => round(v, 1)).join(' '));
    figure('fanout_vs_raw_ratio', r.fanoutMs / r.fanoutRawMs, 2);
    // The hub's own CPU per round, RPC over raw: steadier than wall time on a loaded machine.
    figure('fanout_vs_raw_hub_cpu_ratio', r.fanoutHubCpuMs / r.fanoutRawHubCpuMs, 2);
  }
  if (r.fanoutFailures) report('fanout_failures', r.fanoutFailures);
  // The key is fanout_5000_ms: say why when a smaller fan-out was all this machine allowed.
  if (r.fanoutAgents !== 5000) report('fanout_5000_ms', `n/a (fan-out to ${r.fanoutAgents}: ${r.limitedBy ?? 'BENCH_FANOUT/BENCH_AGENTS'})`);
  report('reconnect_storm_backoff', `base=${backoff.baseMs}ms cap=${backoff.capMs}ms (full jitter, lib/backoff.ts)`);
  figure('reconnect_storm_s', r.stormS ?? Number.NaN);
  figure('reconnect_storm_hub_down_s', r.stormHubDownS ?? Number.NaN);
  report('reconnect_storm_failed_attempts', r.stormFailedAttempts);
  report('reconnect_storm_refusals', Object.entries(r.stormRefusals).map(([k, v]) => `${k}=${v}`).join(' ') || 'none');
  if (r.stormError) failures.push(`reconnect storm: ${r.stormError}`);
  note(`tokens: ${r.agentsWanted} minted in one transaction in ${r.tokensCreateMs.toFixed(0)} ms; simulator RSS ${r.simRssPerAgentKib.toFixed(1)} KiB/agent`);
});

await phase('backup', [], runBackupBench);

const misses: string[] = [];
for (const [name, t] of Object.entries(TARGETS)) {
  const v = results.get(name);
  if (v === undefined) continue;
  const min = 'min' in t ? t.min : undefined;
  if (!(v <= t.max)) misses.push(`${name} = ${round(v, 2)} (target ≤ ${t.max})`);
  if (min !== undefined && !(v >= min)) misses.push(`${name} = ${round(v, 2)} (target ≥ ${min})`);
}
note(misses.length ? `missed targets: ${misses.join('; ')}` : 'all measured figures within their targets');
for (const f of failures) note(`FAILED ${f}`);
process.exitCode = failures.length ? 1 : 0;
