/**
 * Rust WebRCON client: JSON over a WebSocket at ws://host:port/<password>.
 *
 * Hand-written on top of `ws` (already a dependency): the npm "webrcon"
 * package has one release and no timeouts; the protocol is one JSON shape.
 * Requests carry an Identifier; replies echo it. Console and chat lines arrive
 * unsolicited with other identifiers (0, -1) and are ignored here.
 *
 * Rust does not reject a wrong password in the handshake: it accepts the
 * socket and closes it. A connection that closes before any message arrived
 * is therefore reported as an auth failure.
 */
import WebSocket from 'ws';
import { parseJsonBounded } from '../../../protocol/json-bounds.ts';
import {
  AdminChannelError, DefaultAdminTimeouts, SerialQueue, withDeadline,
  type AdminTimeouts, type AdminTransport, type ExecOptions,
} from './common.ts';
import { errorCodeOrMessage } from '../../../lib/error-message.ts';

export interface WebRconOptions extends Partial<AdminTimeouts> {
  host: string;
  port: number;
  password: string | null;
  /** Largest message accepted from the server (ws maxPayload). */
  maxPayload?: number;
}

export const WEBRCON_MAX_PAYLOAD = 16 * 1024 * 1024;
/** Below this the ids are Rust's own (0 console, -1 chat); start well above. */
const FIRST_ID = 1000;
const MAX_ID = 0x7fff_fff0;

interface Pending {
  id: number;
  resolve: (message: string) => void;
  reject: (err: Error) => void;
}

class WebRconConnection {
  #pending: Pending | null = null;
  #failure: Error | null = null;
  /** Any message seen on this socket: tells a wrong password (closed at once) from a crash later. */
  #heardFrom = false;
  readonly #where: string;

  constructor(readonly ws: WebSocket, where: string) {
    this.#where = where;
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('error', (err) => this.#fail(this.#closedError(errorCodeOrMessage(err))));
    ws.on('close', (code) => this.#fail(this.#closedError(`code ${code}`)));
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  /** A socket closed before it ever spoke is how Rust answers a wrong password. */
  #closedError(detail: string): AdminChannelError {
    return this.#heardFrom
      ? new AdminChannelError('closed', `WebRCON ${this.#where} closed the connection (${detail})`)
      : new AdminChannelError('auth', `WebRCON ${this.#where} closed the connection before answering; check rcon.password`);
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    this.#heardFrom = true;
    if (isBinary) return;
    // Depth first: a reply's Message is stringified below, inside this 'message' handler (a throw there ends the agent).
    const parsed = parseJsonBounded(data.toString(), `WebRCON ${this.#where} message`);
    if (!parsed.ok) {
      // Too deep to read its Identifier safely: it fails the command in flight rather than letting it time out.
      const p = parsed.reason === 'depth' ? this.#pending : null;
      if (p) {
        this.#pending = null;
        p.reject(new AdminChannelError('protocol', parsed.error));
      }
      return; // not JSON: not ours to interpret
    }
    const msg = parsed.value;
    if (!msg || typeof msg !== 'object') return;
    const { Identifier, Message } = msg as { Identifier?: unknown; Message?: unknown };
    const p = this.#pending;
    if (!p || Identifier !== p.id) return; // console output, chat, or a stale reply
    this.#pending = null;
    p.resolve(typeof Message === 'string' ? Message : Message === undefined || Message === null ? '' : JSON.stringify(Message));
  }

  #fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    const p = this.#pending;
    this.#pending = null;
    p?.reject(err);
  }

  request(id: number, command: string, signal: AbortSignal): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#pending = null;
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = <T>(fn: (v: T) => void) => (v: T) => {
        signal.removeEventListener('abort', onAbort);
        fn(v);
      };
      this.#pending = { id, resolve: done(resolve), reject: done(reject) };
      if (this.ws.readyState !== WebSocket.OPEN) {
        this.#fail(this.#closedError('closing before the command was sent'));
        return;
      }
      this.ws.send(JSON.stringify({ Identifier: id, Message: command, Name: 'WebRcon' }), (err) => {
        if (err) this.#fail(this.#closedError(`send failed: ${errorCodeOrMessage(err)}`));
      });
    });
  }

  destroy(): void {
    this.ws.terminate();
  }
}

export class WebRconClient implements AdminTransport {
  readonly #opts: Required<Omit<WebRconOptions, 'password'>> & { password: string | null };
  readonly #queue = new SerialQueue();
  #conn: WebRconConnection | null = null;
  #nextId = FIRST_ID;
  #closed = false;

  constructor(options: WebRconOptions) {
    this.#opts = { ...DefaultAdminTimeouts, maxPayload: WEBRCON_MAX_PAYLOAD, ...options };
  }

  get #where(): string {
    return `${this.#opts.host}:${this.#opts.port}`;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<string> {
    return this.#queue.run(async () => {
      if (this.#closed) throw new AdminChannelError('closed', 'the WebRCON client was closed');
      const conn = await this.#connection(opts.signal);
      if (this.#nextId > MAX_ID) this.#nextId = FIRST_ID;
      const id = this.#nextId++;
      try {
        return await withDeadline((signal) => conn.request(id, command, signal), {
          timeoutMs: this.#opts.requestTimeoutMs,
          signal: opts.signal,
          onTimeout: () => new AdminChannelError('timeout', `WebRCON ${this.#where} did not answer "${command.split(' ')[0]}" within ${this.#opts.requestTimeoutMs} ms`),
        });
      } catch (err) {
        // Rust closes the socket as it quits; after "quit" that is the expected answer. A socket that
        // never spoke counts as a wrong password, not as a quit (stop() saves first, so it has spoken).
        if (opts.allowDisconnect && err instanceof AdminChannelError && err.reason === 'closed') {
          this.#drop(conn);
          return '';
        }
        if (!(err instanceof AdminChannelError && err.reason === 'timeout')) this.#drop(conn);
        throw err;
      }
    });
  }

  #drop(conn: WebRconConnection): void {
    conn.destroy();
    if (this.#conn === conn) this.#conn = null;
  }

  async #connection(signal: AbortSignal | undefined): Promise<WebRconConnection> {
    if (this.#conn && !this.#conn.failed) return this.#conn;
    this.#conn = null;
    const { password, host, port } = this.#opts;
    if (!password) throw new AdminChannelError('config', `no rcon.password set for WebRCON ${this.#where}`);
    const url = `ws://${host.includes(':') ? `[${host}]` : host}:${port}/${encodeURIComponent(password)}`;
    const ws = await withDeadline((s) => openSocket(url, this.#opts.maxPayload, this.#where, s), {
      timeoutMs: this.#opts.connectTimeoutMs,
      signal,
      onTimeout: () => new AdminChannelError('connect', `cannot connect to WebRCON ${this.#where} within ${this.#opts.connectTimeoutMs} ms`),
    });
    this.#conn = new WebRconConnection(ws, this.#where);
    return this.#conn;
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#conn) this.#drop(this.#conn);
    return Promise.resolve();
  }
}

function openSocket(url: string, maxPayload: number, where: string, signal: AbortSignal): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload, perMessageDeflate: false });
    const onAbort = () => ws.terminate();
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      signal.removeEventListener('abort', onAbort);
      ws.removeAllListeners('unexpected-response');
    };
    ws.once('open', () => {
      settle();
      resolve(ws);
    });
    // A server that refuses the upgrade (401/403) is a password problem; anything else is a connect problem.
    ws.once('unexpected-response', (req, res) => {
      settle();
      const status = res.statusCode ?? 0;
      req.destroy();
      reject(status === 401 || status === 403
        ? new AdminChannelError('auth', `WebRCON ${where} refused the password (HTTP ${status}); check rcon.password`)
        : new AdminChannelError('connect', `WebRCON ${where} answered HTTP ${status} instead of a WebSocket`));
    });
    ws.on('error', (err) => {
      settle();
      reject(new AdminChannelError('connect', `cannot connect to WebRCON ${where}: ${errorCodeOrMessage(err)}`, { cause: err }));
    });
  });
}
