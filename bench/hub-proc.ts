/**
 * Child process: the real hub (startHub) on 127.0.0.1, driven by bench/run.ts
 * over IPC. Runs with --expose-gc so RSS readings are taken on live data.
 *
 *   argv: <dataDir> <port>   (port 0 = pick one; a restart passes the old port)
 */
import { once } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';
import { startHub } from '../hub/hub.ts';
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

export interface RawFanoutResult {
  roundsMs: number[];
  cpuMs: number[];
  /** Replies that did not come within the round's timeout. */
  missing: number;
}

const [dataDir, portArg] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: hub-proc.ts <dataDir> <port>');

const hub = await startHub({
  config: { listen: { host: '127.0.0.1', port: Number(portArg ?? 0) }, dataDir, api: { token: 'bench-api-token-0123456789abcdef' }, logLevel: 'silent' },
});

let raw: { wss: WebSocketServer; clients: WebSocket[] } | null = null;
let rawRoundNo = 0;
let rawRound: { prefix: string; onReply: () => void } = { prefix: 'none-', onReply: () => undefined };

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
  /**
   * The baseline for the fan-out: a bare `ws` server in this same process, to which
   * the simulators open as many plain connections as the fan-out has agents. Each
   * round sends one JSON `req` to every one and waits for every `res`: the frames
   * and their JSON are what the RPC fan-out sends, without the RPC layer.
   */
  rawListen: async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 1024 * 1024 });
    await once(wss, 'listening');
    raw = { wss, clients: [] };
    wss.on('connection', (ws) => {
      raw?.clients.push(ws);
      ws.on('message', (data) => {
        const frame = JSON.parse((data as Buffer).toString('utf8')) as { type?: string; id?: string };
        if (frame.type === 'res' && frame.id?.startsWith(rawRound.prefix)) rawRound.onReply();
      });
    });
    const addr = wss.address();
    return { url: `ws://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
  },
  rawConnected: () => raw?.clients.length ?? 0,
  rawFanout: async ({ rounds, timeoutMs }: { rounds: number; timeoutMs: number }): Promise<RawFanoutResult> => {
    const clients = raw?.clients ?? [];
    const roundsMs: number[] = [];
    const cpuMs: number[] = [];
    let missing = 0;
    for (let r = 0; r < rounds; r++) {
      const prefix = `raw-${rawRoundNo++}-`;
      let left = clients.length;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const done = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        rawRound = { prefix, onReply: () => { if (--left === 0) { clearTimeout(timer); resolve(); } } };
        if (left === 0) resolve();
      });
      for (let i = 0; i < clients.length; i++) clients[i]!.send(JSON.stringify({ type: 'req', id: `${prefix}${i}`, method: 'agent.ping', params: {}, timeoutMs }));
      await done;
      roundsMs.push(performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      cpuMs.push((cpu.user + cpu.system) / 1000);
      missing += left;
    }
    return { roundsMs, cpuMs, missing };
  },
  rawClose: async () => {
    for (const ws of raw?.clients ?? []) ws.terminate();
    await new Promise<void>((resolve) => (raw ? raw.wss.close(() => resolve()) : resolve()));
    raw = null;
    return true;
  },
  close: async () => {
    await hub.close();
    setImmediate(() => process.exit(0));
    return Date.now();
  },
});

emitToParent('ready', { port: hub.port, url: hub.agentUrl, pid: process.pid });
