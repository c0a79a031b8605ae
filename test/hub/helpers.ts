// Test helpers for the hub suites: a hub in a temp dir and a raw `ws` client that plays the agent.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { PROTOCOL_MAJOR, type BackupRecord, type Frame, type ServerStatus, type ServerSummary } from '../../protocol/index.ts';
import { startHub as startHubWith, type Hub, type HubDeps } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';

export const API_TOKEN = 'test-api-token-0123456789abcdef';

export async function tempDir(prefix = 'reconsync-hub-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function startHub(dataDir: string, extra: Partial<HubDeps> = {}): Promise<Hub> {
  return startHubWith({
    config: { listen: { host: '127.0.0.1', port: 0 }, dataDir, api: { token: API_TOKEN } },
    ...extra,
  });
}

export function signal(ms = 5000): AbortSignal {
  return AbortSignal.timeout(ms);
}

export { waitFor } from '../support/wait.ts';

export interface RawUpgradeAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Attempts an upgrade and returns the HTTP refusal (status, body); throws if the socket opened. */
export async function refusedUpgrade(url: string, headers: Record<string, string>): Promise<RawUpgradeAnswer> {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false });
  ws.on('error', () => {});
  const [, res] = (await once(ws, 'unexpected-response', { signal: signal() })) as [unknown, import('node:http').IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  ws.terminate();
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
}

export const summary = (id: string): ServerSummary => ({ id, game: 'valheim', name: `Server ${id}`, managed: true });

export function status(id: string, patch: Partial<ServerStatus> = {}): ServerStatus {
  return {
    id,
    game: 'valheim',
    name: `Server ${id}`,
    managed: true,
    state: 'running',
    players: { online: 2, max: 10, names: ['a', 'b'] },
    map: 'Dedicated',
    version: '0.219',
    resources: { cpuPercent: 10, rssBytes: 1000, diskFreeBytes: 5000, uptimeSec: 60 },
    lastBackup: null,
    updatedAt: new Date().toISOString(),
    ...patch,
  };
}

/** A raw WebSocket client acting as an agent: every frame is visible to the test. */
export class FakeAgent {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void; reject: (e: Error) => void }[] = [];

  constructor(url: string, token: string | null, opts: { protocol?: string; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { 'X-ReconSync-Protocol': opts.protocol ?? String(PROTOCOL_MAJOR), ...opts.headers };
    if (token !== null) headers.Authorization = `Bearer ${token}`;
    this.ws = new WebSocket(url, { headers, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    this.ws.on('error', () => {});
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => {
        for (const w of this.#waiters.splice(0)) w.reject(new Error('socket closed'));
        resolve({ code, reason: reason.toString() });
      }),
    );
    this.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      const i = this.#waiters.findIndex((w) => w.pred(frame));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(frame);
      else this.frames.push(frame);
    });
  }

  static async connect(hub: Hub, token: string, opts: { protocol?: string } = {}): Promise<FakeAgent> {
    const a = new FakeAgent(hub.agentUrl, token, opts);
    await once(a.ws, 'open', { signal: signal() });
    return a;
  }

  /** Connects, says hello and returns once welcome arrived. */
  static async online(hub: Hub, agentId: string, token: string, servers: ServerSummary[] = [summary(`${agentId}-s1`)]) {
    const a = await FakeAgent.connect(hub, token);
    const welcome = await a.hello(agentId, servers);
    return { agent: a, welcome };
  }

  /** The close code and reason, or a rejection after ms. */
  waitClosed(ms = 5000): Promise<{ code: number; reason: string }> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`socket not closed within ${ms} ms`)), ms);
    });
    return Promise.race([this.closed, timeout]).finally(() => clearTimeout(t));
  }

  send(frame: Frame | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame));
  }

  async hello(agentId: string, servers: ServerSummary[] = []): Promise<Extract<Frame, { type: 'welcome' }>> {
    this.send({ type: 'hello', agentId, agentVersion: '0.1.0-test', protocol: PROTOCOL_MAJOR, servers, capabilities: [] });
    return (await this.next((f) => f.type === 'welcome')) as Extract<Frame, { type: 'welcome' }>;
  }

  /** The next frame matching pred (including ones already received). */
  next(pred: (f: Frame) => boolean, ms = 5000): Promise<Frame> {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('socket closed'));
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (f: Frame) => (clearTimeout(t), resolve(f)), reject: (e: Error) => (clearTimeout(t), reject(e)) };
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        reject(new Error('timed out waiting for a frame'));
      }, ms);
      this.#waiters.push(w);
    });
  }

  /** Answers every req with handler's result (or error). */
  serve(handler: (method: string, params: unknown, id: string) => unknown | Promise<unknown>): void {
    const loop = async () => {
      for (;;) {
        let req: Frame;
        try {
          req = await this.next((f) => f.type === 'req', 60_000);
        } catch {
          return;
        }
        if (req.type !== 'req') continue;
        void (async () => {
          try {
            const result = await handler(req.method, req.params, req.id);
            if (result !== NO_ANSWER) this.send({ type: 'res', id: req.id, ok: true, result });
          } catch (err) {
            this.send({ type: 'res', id: req.id, ok: false, error: { code: 'INTERNAL', message: String(err), retryable: false } });
          }
        })();
        if (this.ws.readyState !== WebSocket.OPEN) return;
      }
    };
    void loop();
  }

  close(): void {
    this.ws.terminate();
  }
}

export const NO_ANSWER = Symbol('no answer');

export function newToken(hub: Hub, agentId: string): string {
  return createToken(hub.store, agentId);
}

export function backup(id: string, serverId: string, createdAt: string, targets: string[] = ['local']): BackupRecord {
  return {
    id,
    serverId,
    game: 'valheim',
    createdAt,
    size: 1234,
    sha256: 'a'.repeat(64),
    files: 3,
    trigger: 'manual',
    format: 'tar.zst',
    locked: false,
    destinations: targets.map((target) => ({ target, verified: true })),
  };
}

