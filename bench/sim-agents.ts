/**
 * Child process: thousands of lightweight simulated agents, each one raw `ws`
 * client speaking the protocol just enough (hello, answer `req` frames), so
 * the hub is what gets measured. They reconnect with the real agent's
 * full-jitter backoff (lib/backoff.ts), optionally with a smaller
 * base/cap for the bench.
 *
 *   argv: <url> <tokensFile> <from> <to>   (agents tokens[from..to))
 *   env:  BENCH_BACKOFF_BASE_MS, BENCH_BACKOFF_CAP_MS, BENCH_BACKOFF_HEALTHY_MS,
 *         BENCH_CONNECT_CONCURRENCY
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Backoff } from '../lib/backoff.ts';
import { PROTOCOL_HEADER, PROTOCOL_MAJOR } from '../protocol/index.ts';
import { emitToParent, serveParent } from './ipc.ts';
import { until } from './stats.ts';

export interface SimTokens {
  agents: { id: string; token: string }[];
}

export interface SimStats {
  agents: number;
  connected: number;
  /** Connection attempts that ended before a welcome (refused, 503, reset). */
  failedAttempts: number;
  /** HTTP status codes of refused upgrades, counted. */
  refusals: Record<string, number>;
  reqsAnswered: number;
  rss: number;
}

const [url, tokensFile, fromArg, toArg] = process.argv.slice(2);
if (!url || !tokensFile) throw new Error('usage: sim-agents.ts <url> <tokensFile> <from> <to>');
const all = (JSON.parse(readFileSync(tokensFile, 'utf8')) as SimTokens).agents;
const mine = all.slice(Number(fromArg ?? 0), Number(toArg ?? all.length));

const backoffOptions = {
  baseMs: Number(process.env.BENCH_BACKOFF_BASE_MS ?? 1000),
  capMs: Number(process.env.BENCH_BACKOFF_CAP_MS ?? 60_000),
  healthyResetMs: Number(process.env.BENCH_BACKOFF_HEALTHY_MS ?? 60_000),
};
/** Initial dial only: keeps setup under the hub's pending-upgrade cap. Reconnects use backoff alone, like real agents. */
const connectConcurrency = Number(process.env.BENCH_CONNECT_CONCURRENCY ?? 200);

let connected = 0;
let failedAttempts = 0;
let reqsAnswered = 0;
let stopping = false;
const refusals: Record<string, number> = {};

class SimAgent {
  ws: WebSocket | undefined;
  up = false;
  readonly backoff = new Backoff(backoffOptions);
  readonly hello: string;
  onWelcome: (() => void) | undefined;

  constructor(readonly id: string, readonly token: string) {
    this.hello = JSON.stringify({
      type: 'hello',
      agentId: id,
      agentVersion: 'bench-sim',
      protocol: PROTOCOL_MAJOR,
      servers: [{ id: `${id}-s1`, game: 'valheim', name: 'Sim', managed: false }],
      capabilities: [],
    });
  }

  dial(): void {
    if (stopping) return;
    const ws = new WebSocket(url!, {
      perMessageDeflate: false,
      headers: { authorization: `Bearer ${this.token}`, [PROTOCOL_HEADER]: String(PROTOCOL_MAJOR) },
    });
    this.ws = ws;
    ws.on('open', () => ws.send(this.hello));
    ws.on('unexpected-response', (_req, res) => {
      const code = String(res.statusCode);
      refusals[code] = (refusals[code] ?? 0) + 1;
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => undefined); // the close that follows schedules the retry
    ws.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString('utf8')) as { type?: string; id?: string };
      if (frame.type === 'req') {
        ws.send(JSON.stringify({ type: 'res', id: frame.id, ok: true, result: { now: Date.now() } }));
        reqsAnswered++;
      } else if (frame.type === 'welcome') {
        this.up = true;
        connected++;
        this.backoff.connected(Date.now());
        const w = this.onWelcome;
        this.onWelcome = undefined;
        w?.();
      }
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.up) connected--;
      else failedAttempts++;
      const wasUp = this.up;
      this.up = false;
      if (!wasUp) {
        const w = this.onWelcome;
        this.onWelcome = undefined;
        w?.();
      }
      if (!stopping) setTimeout(() => this.dial(), this.backoff.next(Date.now())).unref();
    });
  }
}

const agents = mine.map((a) => new SimAgent(a.id, a.token));

/** Dial everyone with at most `connectConcurrency` handshakes in flight; returns once each got a welcome or failed once. */
async function connectAll(): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < agents.length) {
      const agent = agents[next++]!;
      await new Promise<void>((resolve) => {
        agent.onWelcome = resolve;
        agent.dial();
      });
    }
  };
  await Promise.all(Array.from({ length: connectConcurrency }, worker));
}

function stats(): SimStats {
  return { agents: agents.length, connected, failedAttempts, refusals: { ...refusals }, reqsAnswered, rss: process.memoryUsage().rss };
}

/** Plain connections to the hub process's bare `ws` server (the fan-out baseline); they answer `req` as the agents do. */
const rawClients: WebSocket[] = [];

async function rawConnect(rawUrl: string, count: number): Promise<number> {
  const one = () => new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(rawUrl, { perMessageDeflate: false });
    rawClients.push(ws);
    ws.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString('utf8')) as { type?: string; id?: string };
      if (frame.type === 'req') ws.send(JSON.stringify({ type: 'res', id: frame.id, ok: true, result: { now: Date.now() } }));
    });
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 0;
  // As many handshakes in flight as the agents' initial dial uses (under the listen backlog).
  await Promise.all(Array.from({ length: Math.min(connectConcurrency, count) }, async () => {
    while (next < count) {
      next++;
      await one();
    }
  }));
  return rawClients.length;
}

serveParent({
  rawConnect: ({ url: rawUrl, count }: { url: string; count: number }) => rawConnect(rawUrl, count),
  rawClose: () => {
    for (const ws of rawClients.splice(0)) ws.terminate();
    return true;
  },
  connectAll: async ({ timeoutMs }: { timeoutMs: number }) => {
    await connectAll();
    // Agents whose first try failed retry through backoff; wait for them too.
    await until(() => connected >= agents.length, timeoutMs, `all ${agents.length} simulated agents connected (have ${connected})`, 10);
    return stats();
  },
  stats,
  resetCounters: () => {
    failedAttempts = 0;
    for (const k of Object.keys(refusals)) delete refusals[k];
    return stats();
  },
  close: () => {
    stopping = true;
    for (const a of agents) a.ws?.terminate();
    setImmediate(() => process.exit(0));
    return stats();
  },
});

emitToParent('ready', { agents: agents.length, pid: process.pid });
