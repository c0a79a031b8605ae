/**
 * Satisfactory dedicated server HTTPS API client: POST https://host:port/api/v1
 * with {function, data}, `Authorization: Bearer <token>` where the token is
 * rcon.password (an admin token from `server.GenerateAPIToken`). The server's
 * certificate is self-signed; it is accepted when insecureTls is set.
 *
 * Hand-written on node:https (http-json.ts): there is no maintained client and
 * the API is one endpoint. exec() takes either an API function ("SaveGame",
 * optionally followed by its data as JSON) or a console command, which goes
 * through the RunCommand function.
 */
import { ReconSyncError } from '../../../protocol/errors.ts';
import { parseJsonBounded } from '../../../protocol/json-bounds.ts';
import { AdminChannelError, DefaultAdminTimeouts, SerialQueue, type AdminTimeouts, type AdminTransport, type ExecOptions } from './common.ts';
import { hostForUrl, httpJson, httpStatusError } from './http-json.ts';

export interface SatisfactoryApiOptions extends Partial<AdminTimeouts> {
  host: string;
  port: number;
  /** API token; null = log in without password as a Client (read-only functions only). */
  password: string | null;
  insecureTls: boolean;
}

/** API functions of the dedicated server (Satisfactory 1.0 HTTPS API reference). */
export const SATISFACTORY_FUNCTIONS = new Set([
  'HealthCheck', 'VerifyAuthenticationToken', 'PasswordlessLogin', 'PasswordLogin', 'QueryServerState',
  'GetServerOptions', 'GetAdvancedGameSettings', 'ApplyAdvancedGameSettings', 'ClaimServer', 'RenameServer',
  'SetClientPassword', 'SetAdminPassword', 'SetAutoLoadSessionName', 'RunCommand', 'Shutdown',
  'ApplyServerOptions', 'CreateNewGame', 'SaveGame', 'DeleteSaveFile', 'DeleteSaveSession',
  'EnumerateSessions', 'LoadGame',
]);

export interface ApiFunctionCall {
  function: string;
  data?: Record<string, unknown>;
}

/** "SaveGame {"SaveName":"x"}" → an API call; anything else → RunCommand. Exported for tests. */
export function satisfactoryCall(command: string): ApiFunctionCall {
  const trimmed = command.trim();
  const m = /^([A-Za-z]+)(?:\s+(\{[\s\S]*))?$/.exec(trimmed);
  if (m && SATISFACTORY_FUNCTIONS.has(m[1]!)) {
    if (m[2] === undefined) return { function: m[1]! };
    // Bounded: the data is stringified into the request body.
    const data = parseJsonBounded(m[2], `the data after ${m[1]}`);
    if (!data.ok) throw new ReconSyncError('INVALID_PARAMS', data.error);
    return { function: m[1]!, data: data.value as Record<string, unknown> };
  }
  return { function: 'RunCommand', data: { Command: trimmed } };
}

export class SatisfactoryApiClient implements AdminTransport {
  readonly #opts: Required<Omit<SatisfactoryApiOptions, 'password'>> & { password: string | null };
  readonly #queue = new SerialQueue();
  #clientToken: string | null = null;
  #closed = false;

  constructor(options: SatisfactoryApiOptions) {
    this.#opts = { ...DefaultAdminTimeouts, ...options };
  }

  get #label(): string {
    return `Satisfactory API ${this.#opts.host}:${this.#opts.port}`;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<string> {
    let call: ApiFunctionCall;
    try {
      call = satisfactoryCall(command);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#queue.run(async () => {
      if (!this.#opts.password) throw new AdminChannelError('config', `no rcon.password (API token) set for ${this.#label}`);
      try {
        const data = await this.call(call, this.#opts.password, opts.signal);
        if (call.function === 'RunCommand' && data && typeof data === 'object' && 'commandResult' in data) return String((data as { commandResult: unknown }).commandResult);
        return data === undefined ? 'OK' : JSON.stringify(data, null, 2);
      } catch (err) {
        // Shutdown may drop the connection instead of answering.
        if (opts.allowDisconnect && err instanceof AdminChannelError && (err.reason === 'closed' || err.reason === 'connect')) return '';
        throw err;
      }
    });
  }

  /** Calls a function; resolves the reply's `data` (undefined for 204). */
  async call(call: ApiFunctionCall, token: string | null, signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) throw new AdminChannelError('closed', 'the Satisfactory API client was closed');
    const res = await httpJson({
      url: `https://${hostForUrl(this.#opts.host)}:${this.#opts.port}/api/v1`,
      method: 'POST',
      headers: token ? { authorization: `Bearer ${token}` } : {},
      body: call.data === undefined ? { function: call.function } : call,
      timeoutMs: this.#opts.requestTimeoutMs,
      signal,
      insecureTls: this.#opts.insecureTls,
      label: this.#label,
    });
    if (res.status === 204) return undefined;
    const body = res.json as { data?: unknown; errorCode?: unknown; errorMessage?: unknown } | undefined;
    if (res.status < 200 || res.status > 299) {
      if (body && typeof body.errorCode === 'string') {
        const reason = res.status === 401 || res.status === 403 || /token|privilege|password/i.test(body.errorCode) ? 'auth' : 'http';
        throw new AdminChannelError(reason, `${this.#label} ${call.function}: ${body.errorCode}${typeof body.errorMessage === 'string' ? ` (${body.errorMessage})` : ''}`);
      }
      throw httpStatusError(this.#label, res, 'rcon.password (API token)');
    }
    return body?.data;
  }

  /** A token for read-only calls: the admin token when configured, else a passwordless Client login (cached). */
  async readToken(signal?: AbortSignal): Promise<string> {
    if (this.#opts.password) return this.#opts.password;
    if (this.#clientToken) return this.#clientToken;
    const data = await this.call({ function: 'PasswordlessLogin', data: { MinimumPrivilegeLevel: 'Client' } }, null, signal);
    const token = (data as { authenticationToken?: unknown } | undefined)?.authenticationToken;
    if (typeof token !== 'string') throw new AdminChannelError('auth', `${this.#label} gave no token to a passwordless login; set rcon.password (API token)`);
    this.#clientToken = token;
    return token;
  }

  /** Forgets a cached Client token after an auth failure. */
  forgetToken(): void {
    this.#clientToken = null;
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
