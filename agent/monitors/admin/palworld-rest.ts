/**
 * Palworld REST API client (RESTAPIEnabled=True, RESTAPIPort, Basic admin:<AdminPassword>).
 *
 * Hand-written on node:http (http-json.ts): the API is a handful of JSON
 * endpoints and no maintained client exists. REST has no console, so exec()
 * understands a small command vocabulary that maps onto the endpoints; the
 * profile's save/broadcast/stop commands use the same words:
 *
 *   info | players | settings | metrics       GET  /v1/api/<name>
 *   save                                      POST /v1/api/save
 *   announce <message>                        POST /v1/api/announce {message}
 *   shutdown [seconds] [message]              POST /v1/api/shutdown {waittime, message}
 *   stop                                      POST /v1/api/stop (no save)
 *   kick|ban <userid> [message], unban <userid>
 */
import { ReconSyncError } from '../../../protocol/errors.ts';
import { AdminChannelError, DefaultAdminTimeouts, SerialQueue, type AdminTimeouts, type AdminTransport, type ExecOptions } from './common.ts';
import { basicAuth, hostForUrl, httpJson, httpStatusError } from './http-json.ts';

export interface PalworldRestOptions extends Partial<AdminTimeouts> {
  host: string;
  port: number;
  password: string | null;
  /** Seconds the game waits before a `shutdown` without an explicit time. */
  shutdownWaitSec?: number;
  shutdownMessage?: string;
}

export const PALWORLD_USER = 'admin';
const GETS = new Set(['info', 'players', 'settings', 'metrics']);

interface ApiCall {
  method: 'GET' | 'POST';
  path: string;
  body?: Record<string, unknown>;
}

/** Turns a vocabulary command into a REST call; exported for tests. */
export function palworldCall(command: string, defaults: { shutdownWaitSec: number; shutdownMessage: string }): ApiCall {
  const trimmed = command.trim();
  const [verb = '', ...rest] = trimmed.split(/\s+/);
  const tail = trimmed.slice(verb.length).trim();
  const name = verb.toLowerCase();
  if (GETS.has(name)) return { method: 'GET', path: name };
  switch (name) {
    case 'save':
    case 'stop':
      return { method: 'POST', path: name };
    case 'announce':
      if (!tail) break;
      return { method: 'POST', path: 'announce', body: { message: tail } };
    case 'shutdown': {
      const secs = rest[0] !== undefined && /^\d+$/.test(rest[0]) ? Number(rest[0]) : undefined;
      const message = (secs === undefined ? tail : rest.slice(1).join(' ')) || defaults.shutdownMessage;
      return { method: 'POST', path: 'shutdown', body: { waittime: secs ?? defaults.shutdownWaitSec, message } };
    }
    case 'kick':
    case 'ban':
      if (!rest[0]) break;
      return { method: 'POST', path: name, body: { userid: rest[0], message: rest.slice(1).join(' ') } };
    case 'unban':
      if (!rest[0]) break;
      return { method: 'POST', path: 'unban', body: { userid: rest[0] } };
  }
  throw new ReconSyncError('INVALID_PARAMS', `Palworld REST knows: info, players, settings, metrics, save, announce <message>, shutdown [seconds] [message], stop, kick|ban <userid> [message], unban <userid>; got "${verb}"`);
}

export class PalworldRestClient implements AdminTransport {
  readonly #opts: Required<Omit<PalworldRestOptions, 'password'>> & { password: string | null };
  readonly #queue = new SerialQueue();
  #closed = false;

  constructor(options: PalworldRestOptions) {
    this.#opts = { ...DefaultAdminTimeouts, shutdownWaitSec: 1, shutdownMessage: 'Server is shutting down', ...options };
  }

  get #label(): string {
    return `Palworld REST ${this.#opts.host}:${this.#opts.port}`;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<string> {
    let call: ApiCall;
    try {
      call = palworldCall(command, this.#opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#queue.run(async () => {
      const res = await this.call(call, opts.signal);
      return res === undefined ? 'OK' : typeof res === 'string' ? res : JSON.stringify(res, null, 2);
    });
  }

  /** One API call; resolves the parsed JSON body (undefined when empty). Used by the status probe too. */
  async call(call: ApiCall, signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) throw new AdminChannelError('closed', 'the Palworld REST client was closed');
    if (!this.#opts.password) throw new AdminChannelError('config', `no rcon.password (AdminPassword) set for ${this.#label}`);
    const res = await httpJson({
      url: `http://${hostForUrl(this.#opts.host)}:${this.#opts.port}/v1/api/${call.path}`,
      method: call.method,
      headers: { authorization: basicAuth(PALWORLD_USER, this.#opts.password) },
      body: call.body,
      timeoutMs: this.#opts.requestTimeoutMs,
      signal,
      label: this.#label,
    });
    if (res.status < 200 || res.status > 299) throw httpStatusError(this.#label, res, 'rcon.password (AdminPassword)');
    return res.json ?? (res.text.trim() || undefined);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
