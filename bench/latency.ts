/**
 * Round-trip latency, one call at a time, all in this process:
 *  - baseline: a raw `ws` echo server and client, 128-byte text frames,
 *    permessage-deflate off on both ends;
 *  - ReconSync: the real hub (startHub) calling `agent.ping` through its RPC
 *    router on a real AgentLink (zod on both ends, pending map + timer,
 *    metrics).
 * The two are measured in alternating blocks so machine noise (other work on
 * the two cores) hits both alike.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { AgentLink } from '../agent/link/link.ts';
import { startHub } from '../hub/hub.ts';
import { createToken } from '../hub/tokens.ts';
import { quantile } from './stats.ts';

export interface LatencyOptions {
  /** Alternating blocks of echo and RPC round trips. */
  blocks: number;
  perBlock: number;
  warmup: number;
  payloadBytes: number;
}

export const DefaultLatencyOptions = { blocks: 10, perBlock: 2000, warmup: 3000, payloadBytes: 128 } satisfies LatencyOptions;

export interface LatencyResult {
  echoP50Us: number;
  echoP99Us: number;
  rpcP50Us: number;
  rpcP99Us: number;
  samples: number;
}

const API_TOKEN = 'bench-api-token-0123456789abcdef';

export async function measureLatency(options: Partial<LatencyOptions> = {}): Promise<LatencyResult> {
  const opts = { ...DefaultLatencyOptions, ...options };
  const root = await mkdtemp(join(tmpdir(), 'rs-bench-lat-'));
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rm(root, { recursive: true, force: true })];
  try {
    const echo = await startEcho(opts.payloadBytes);
    cleanups.unshift(echo.close);
    const hub = await startHub({ config: { listen: { host: '127.0.0.1', port: 0 }, dataDir: join(root, 'hub'), api: { token: API_TOKEN } } });
    cleanups.unshift(() => hub.close());
    const token = createToken(hub.store, 'bench-agent');
    const link = new AgentLink({
      url: hub.agentUrl,
      token,
      agentId: 'bench-agent',
      agentVersion: 'bench',
      dataDir: join(root, 'agent'),
      servers: () => [{ id: 'bench-server', game: 'valheim', name: 'Bench', managed: false }],
      handlers: { 'agent.ping': async () => ({ now: Date.now() }) },
    });
    cleanups.unshift(() => link.close());
    const connected = once(link, 'connected', { signal: AbortSignal.timeout(10_000) });
    await link.start();
    await connected;
    const router = hub.service.router;
    const rpc = () => router.call({ agentId: 'bench-agent' }, 'agent.ping', {});

    const echoSamples: number[] = [];
    const rpcSamples: number[] = [];
    await timeLoop(echo.roundTrip, opts.warmup, null);
    await timeLoop(rpc, opts.warmup, null);
    for (let b = 0; b < opts.blocks; b++) {
      await timeLoop(echo.roundTrip, opts.perBlock, echoSamples);
      await timeLoop(rpc, opts.perBlock, rpcSamples);
    }
    return {
      echoP50Us: quantile(echoSamples, 0.5),
      echoP99Us: quantile(echoSamples, 0.99),
      rpcP50Us: quantile(rpcSamples, 0.5),
      rpcP99Us: quantile(rpcSamples, 0.99),
      samples: rpcSamples.length,
    };
  } finally {
    for (const c of cleanups) await c();
  }
}

/** Runs fn n times in sequence; records each duration in µs. */
async function timeLoop(fn: () => Promise<unknown>, n: number, into: number[] | null): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    if (into) into.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
}

async function startEcho(payloadBytes: number): Promise<{ roundTrip: () => Promise<void>; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const { port } = wss.address() as AddressInfo;
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await once(client, 'open');
  const payload = 'x'.repeat(payloadBytes);
  let waiting: (() => void) | undefined;
  client.on('message', () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  });
  return {
    roundTrip: () =>
      new Promise<void>((resolve) => {
        waiting = resolve;
        client.send(payload);
      }),
    close: async () => {
      client.terminate();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
