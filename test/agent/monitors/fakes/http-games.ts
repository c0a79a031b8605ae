/**
 * HTTP fakes on 127.0.0.1:0: the Palworld REST API (Basic admin:<password>)
 * and the Satisfactory HTTPS API (Bearer token, self-signed certificate made
 * with the openssl binary in a temp dir).
 */
import http from 'node:http';
import https from 'node:https';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';

export interface ApiCallRecord {
  method: string;
  path: string;
  body: unknown;
  auth: string | undefined;
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : undefined;
}

function json(res: http.ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export interface PalworldFakeOptions {
  password: string;
  players?: Array<{ name: string; playerId?: string; userId?: string }>;
  maxPlayers?: number;
  version?: string;
  /** Paths (e.g. "save") that never answer. */
  stall?: string[];
  /** Old servers without /metrics. */
  noMetrics?: boolean;
}

export class PalworldFake {
  readonly server: http.Server;
  readonly calls: ApiCallRecord[] = [];

  constructor(public options: PalworldFakeOptions) {
    this.server = http.createServer((req, res) => void this.#handle(req, res));
  }

  async start(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const p = (req.url ?? '').replace(/^\/v1\/api\//, '');
    this.calls.push({ method: req.method ?? '', path: p, body, auth: req.headers.authorization });
    const expected = `Basic ${Buffer.from(`admin:${this.options.password}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return json(res, 401, undefined);
    if (this.options.stall?.includes(p)) return; // never answers
    const players = this.options.players ?? [];
    const routes: Record<string, () => void> = {
      'GET info': () => json(res, 200, { version: this.options.version ?? 'v0.3.11.0', servername: 'Pal Test', description: '', worldguid: 'ABC' }),
      'GET players': () => json(res, 200, { players: players.map((pl, i) => ({ name: pl.name, accountName: `acc${i}`, playerId: pl.playerId ?? `p${i}`, userId: pl.userId ?? `steam_${i}`, ip: '127.0.0.1', ping: 10, level: 5 })) }),
      'GET metrics': () => (this.options.noMetrics ? json(res, 404, undefined) : json(res, 200, { serverfps: 60, currentplayernum: players.length, serverframetime: 16, maxplayernum: this.options.maxPlayers ?? 32, uptime: 100, days: 3 })),
      'GET settings': () => json(res, 200, { ServerPlayerMaxNum: this.options.maxPlayers ?? 32 }),
      'POST save': () => json(res, 200, undefined),
      'POST announce': () => json(res, 200, undefined),
      'POST shutdown': () => json(res, 200, undefined),
      'POST stop': () => json(res, 200, undefined),
      'POST kick': () => json(res, 200, undefined),
    };
    const route = routes[`${req.method} ${p}`];
    if (route) route();
    else json(res, 404, undefined);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const execFileP = promisify(execFile);

/** A throwaway self-signed certificate for 127.0.0.1 (the real server's is self-signed too). */
export async function makeSelfSignedCert(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-cert-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    await execFileP('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1']);
    return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SatisfactoryFakeOptions {
  adminToken: string;
  /** Passwordless Client logins allowed (no client password set on the server). */
  passwordless?: boolean;
  players?: number;
  playerLimit?: number;
  session?: string;
}

export class SatisfactoryFake {
  server: https.Server | null = null;
  readonly calls: ApiCallRecord[] = [];
  static readonly CLIENT_TOKEN = 'client-token-1';

  constructor(public options: SatisfactoryFakeOptions) {}

  async start(tls: { key: string; cert: string }): Promise<number> {
    this.server = https.createServer(tls, (req, res) => void this.#handle(req, res));
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = (await readBody(req)) as { function?: string; data?: Record<string, unknown> } | undefined;
    this.calls.push({ method: req.method ?? '', path: req.url ?? '', body, auth: req.headers.authorization });
    if (req.method !== 'POST' || !(req.url ?? '').startsWith('/api/v1')) return json(res, 404, { errorCode: 'not_found' });
    const fn = body?.function;
    const token = req.headers.authorization?.replace(/^Bearer /, '');
    const isAdmin = token === this.options.adminToken;
    const isClient = isAdmin || token === SatisfactoryFake.CLIENT_TOKEN;
    if (fn === 'PasswordlessLogin') {
      if (!this.options.passwordless) return json(res, 401, { errorCode: 'passwordless_login_not_possible', errorMessage: 'a client password is set' });
      return json(res, 200, { data: { authenticationToken: SatisfactoryFake.CLIENT_TOKEN } });
    }
    if (fn === 'QueryServerState') {
      if (!isClient) return json(res, 401, { errorCode: 'invalid_token', errorMessage: 'token is not valid' });
      return json(res, 200, { data: { serverGameState: { activeSessionName: this.options.session ?? 'Factory', numConnectedPlayers: this.options.players ?? 0, playerLimit: this.options.playerLimit ?? 4, techTier: 2, isGameRunning: true } } });
    }
    if (!isAdmin) return json(res, 403, { errorCode: 'insufficient_scope', errorMessage: 'admin privilege required' });
    if (fn === 'SaveGame' || fn === 'Shutdown') return json(res, 204);
    if (fn === 'RunCommand') return json(res, 200, { data: { commandResult: `ran ${String(body?.data?.Command)}`, returnValue: true } });
    return json(res, 400, { errorCode: 'unknown_function', errorMessage: String(fn) });
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
