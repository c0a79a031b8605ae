/**
 * Child process: the real hub (createHub) on 127.0.0.1, driven by bench/run.ts
 * over IPC. Runs with --expose-gc so RSS readings are taken on live data.
 *
 *   argv: <dataDir> <port>   (port 0 = pick one; a restart passes the old port)
 */
import { createHub } from '../hub/hub.ts';
import { emitToParent, serveParent } from './ipc.ts';
import { openFds, settleHeap, until } from './stats.ts';

export interface HubStats {
  rss: number;
  heapUsed: number;
  connected: number;
  fds: number | null;
  /** Date.now() when the stats were taken. */
  at: number;
}

export interface FanoutArgs {
  agentIds: string[];
  rounds: number;
}

export interface FanoutResult {
  /** Wall time of each round, ms: all calls issued at once, until the last answer. */
  roundsMs: number[];
  /** CPU time (user + system) the hub process spent in each round, ms: near roundsMs means the hub is the bottleneck. */
  cpuMs: number[];
  failures: number;
  firstError: string | null;
}

const [dataDir, portArg] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: hub-proc.ts <dataDir> <port>');

const hub = await createHub({
  config: { listen: { host: '127.0.0.1', port: Number(portArg ?? 0) }, dataDir, api: { token: 'bench-api-token-0123456789abcdef' }, logLevel: 'silent' },
});

async function stats(): Promise<HubStats> {
  await settleHeap();
  const mem = process.memoryUsage();
  return { rss: mem.rss, heapUsed: mem.heapUsed, connected: hub.link.registry.connectedCount, fds: openFds(), at: Date.now() };
}

serveParent({
  stats,
  /** Resolves with Date.now() at the moment `n` agents are connected (polled every 5 ms). */
  waitConnected: async ({ n, timeoutMs }: { n: number; timeoutMs: number }) => {
    await until(() => hub.link.registry.connectedCount >= n, timeoutMs, `${n} connected agents (have ${hub.link.registry.connectedCount})`, 5);
    return Date.now();
  },
  connected: () => hub.link.registry.connectedCount,
  fanout: async ({ agentIds, rounds }: FanoutArgs): Promise<FanoutResult> => {
    const router = hub.service.router;
    const roundsMs: number[] = [];
    const cpuMs: number[] = [];
    let failures = 0;
    let firstError: string | null = null;
    for (let r = 0; r < rounds; r++) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const settled = await Promise.allSettled(agentIds.map((agentId) => router.call({ agentId }, 'agent.ping', {}, { timeoutMs: 30_000 })));
      roundsMs.push(performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      cpuMs.push((cpu.user + cpu.system) / 1000);
      for (const s of settled) {
        if (s.status === 'rejected') {
          failures++;
          firstError ??= String(s.reason);
        }
      }
    }
    return { roundsMs, cpuMs, failures, firstError };
  },
  close: async () => {
    await hub.close();
    setImmediate(() => process.exit(0));
    return Date.now();
  },
});

emitToParent('ready', { port: hub.port, url: hub.agentUrl, pid: process.pid });
