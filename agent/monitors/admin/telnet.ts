/**
 * 7 Days to Die telnet console client (TelnetPort, TelnetPassword).
 *
 * Hand-written: telnet-client (installed through gamedig) waits for a shell
 * prompt, and 7DTD prints none after a command's output; it also streams log
 * lines at any time. So a reply here is "what arrived until the line went quiet",
 * bounded by the request timeout. The console barely uses telnet option
 * negotiation; IAC sequences are stripped, never answered.
 *
 * Login: the server greets, asks "Please enter password:", answers
 * "Logon successful." or "Password incorrect, please enter password:". On
 * localhost without a password it skips the prompt.
 */
import type net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import {
  AdminChannelError, DefaultAdminTimeouts, SerialQueue, withDeadline,
  type AdminTimeouts, type AdminTransport, type ExecOptions,
} from './common.ts';
import { connectTcp } from './tcp.ts';
import { errorCodeOrMessage } from '../../../lib/error-message.ts';

export interface TelnetOptions extends Partial<AdminTimeouts> {
  host: string;
  port: number;
  password: string | null;
}

const PASSWORD_PROMPT = /enter password:/i;
const LOGON_OK = /logon successful/i;
const LOGON_BAD = /password incorrect|wrong password|incorrect password|access denied/i;
/** Shown after login, or right away when no password is needed. */
const WELCOME = /press 'help'|type 'help'|logon successful/i;
/** 7DTD echoes every command into its log: "... INF Executing command 'saveworld' by Telnet from 127.0.0.1:5555". */
const ECHO_LINE = /INF Executing command '.*' by Telnet/;
/** Cap on buffered console text: a server flooding logs cannot grow it without bound. */
const MAX_BUFFER_CHARS = 1024 * 1024;

const IAC = 0xff, SB = 0xfa, SE = 0xf0, WILL = 0xfb, DONT = 0xfe;

/** Removes telnet IAC sequences; returns the text bytes and the bytes of an unfinished sequence to carry over. */
export function stripTelnetCommands(input: Buffer): { data: Buffer; carry: Buffer } {
  const out: number[] = [];
  let i = 0;
  while (i < input.length) {
    const b = input[i]!;
    if (b !== IAC) {
      out.push(b);
      i++;
      continue;
    }
    if (i + 1 >= input.length) return { data: Buffer.from(out), carry: input.subarray(i) };
    const cmd = input[i + 1]!;
    if (cmd === IAC) {
      out.push(IAC);
      i += 2;
    } else if (cmd >= WILL && cmd <= DONT) {
      if (i + 2 >= input.length) return { data: Buffer.from(out), carry: input.subarray(i) };
      i += 3;
    } else if (cmd === SB) {
      let j = i + 2;
      while (j + 1 < input.length && !(input[j] === IAC && input[j + 1] === SE)) j++;
      if (j + 1 >= input.length) return { data: Buffer.from(out), carry: input.subarray(i) };
      i = j + 2;
    } else {
      i += 2;
    }
  }
  return { data: Buffer.from(out), carry: Buffer.alloc(0) };
}

type WaitResult = 'match' | 'quiet';

class TelnetConnection {
  #text = '';
  #carry: Buffer = Buffer.alloc(0);
  readonly #decoder = new StringDecoder('utf8');
  #listener: (() => void) | null = null;
  #failure: AdminChannelError | null = null;

  constructor(readonly socket: net.Socket, where: string) {
    socket.on('data', (chunk: Buffer) => {
      const { data, carry } = stripTelnetCommands(this.#carry.length ? Buffer.concat([this.#carry, chunk]) : chunk);
      this.#carry = Buffer.from(carry);
      this.#text += this.#decoder.write(data);
      if (this.#text.length > MAX_BUFFER_CHARS) this.#text = this.#text.slice(-MAX_BUFFER_CHARS);
      this.#listener?.();
    });
    socket.on('error', (err) => this.#fail(new AdminChannelError('closed', `telnet ${where} failed: ${errorCodeOrMessage(err)}`, { cause: err })));
    socket.on('close', () => this.#fail(new AdminChannelError('closed', `telnet ${where} closed the connection`)));
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  get buffered(): string {
    return this.#text;
  }

  #fail(err: AdminChannelError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#listener?.();
  }

  /** Returns and clears what has arrived. */
  take(): string {
    const t = this.#text;
    this.#text = '';
    return t;
  }

  write(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /**
   * Resolves 'match' when `pattern` matches the buffered text, or 'quiet' when
   * `quietMs` passed without new data after some data arrived. Rejects when the
   * connection fails (the text so far stays readable) or `signal` aborts.
   */
  waitFor(pattern: RegExp | null, quietMs: number | null, signal: AbortSignal): Promise<WaitResult> {
    return new Promise((resolve, reject) => {
      let quietTimer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        this.#listener = null;
        clearTimeout(quietTimer);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        cleanup();
        reject(signal.reason);
      };
      const check = () => {
        if (pattern?.test(this.#text)) {
          cleanup();
          return resolve('match');
        }
        if (this.#failure) {
          cleanup();
          return reject(this.#failure);
        }
        if (quietMs !== null && this.#text.length > 0) {
          clearTimeout(quietTimer);
          quietTimer = setTimeout(() => {
            cleanup();
            resolve('quiet');
          }, quietMs);
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#listener = check;
      check();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Drops telnet noise from a reply: CRs, the command echo, surrounding blank lines. */
export function cleanTelnetOutput(text: string): string {
  return text.replace(/\r/g, '').split('\n').filter((l) => !ECHO_LINE.test(l)).join('\n').trim();
}

export class TelnetClient implements AdminTransport {
  readonly #opts: Required<Omit<TelnetOptions, 'password'>> & { password: string | null };
  readonly #queue = new SerialQueue();
  #conn: TelnetConnection | null = null;
  #closed = false;

  constructor(options: TelnetOptions) {
    this.#opts = { ...DefaultAdminTimeouts, ...options };
  }

  get #where(): string {
    return `${this.#opts.host}:${this.#opts.port}`;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<string> {
    if (/[\r\n]/.test(command)) return Promise.reject(new AdminChannelError('config', 'a telnet command must be one line'));
    return this.#queue.run(async () => {
      if (this.#closed) throw new AdminChannelError('closed', 'the telnet client was closed');
      const conn = await this.#connection(opts.signal);
      conn.take(); // log lines that arrived between commands are not this command's answer
      conn.write(command);
      try {
        await withDeadline((signal) => conn.waitFor(null, this.#opts.quietMs, signal), {
          timeoutMs: this.#opts.requestTimeoutMs,
          signal: opts.signal,
          onTimeout: () => new AdminChannelError('timeout', `telnet ${this.#where} did not answer "${command.split(' ')[0]}" within ${this.#opts.requestTimeoutMs} ms`),
        });
        return cleanTelnetOutput(conn.take());
      } catch (err) {
        // A flooding log never goes quiet: return what arrived by the deadline if anything did.
        if (err instanceof AdminChannelError && err.reason === 'timeout' && conn.buffered.length > 0) return cleanTelnetOutput(conn.take());
        this.#drop(conn);
        if (opts.allowDisconnect && err instanceof AdminChannelError && err.reason === 'closed') return cleanTelnetOutput(conn.take());
        throw err;
      }
    });
  }

  #drop(conn: TelnetConnection): void {
    conn.destroy();
    if (this.#conn === conn) this.#conn = null;
  }

  async #connection(signal: AbortSignal | undefined): Promise<TelnetConnection> {
    if (this.#conn && !this.#conn.failed) return this.#conn;
    this.#conn = null;
    const socket = await withDeadline((s) => connectTcp(this.#opts.host, this.#opts.port, s), {
      timeoutMs: this.#opts.connectTimeoutMs,
      signal,
      onTimeout: () => new AdminChannelError('connect', `cannot connect to telnet ${this.#where} within ${this.#opts.connectTimeoutMs} ms`),
    });
    const conn = new TelnetConnection(socket, this.#where);
    try {
      await withDeadline((s) => this.#login(conn, s), {
        timeoutMs: this.#opts.authTimeoutMs,
        signal,
        onTimeout: () => new AdminChannelError('auth', `telnet ${this.#where} did not finish the login within ${this.#opts.authTimeoutMs} ms`),
      });
    } catch (err) {
      conn.destroy();
      if (err instanceof AdminChannelError && err.reason === 'closed') {
        throw new AdminChannelError('auth', `telnet ${this.#where} closed the connection during login; check rcon.password (TelnetPassword)`, { cause: err });
      }
      throw err;
    }
    this.#conn = conn;
    return conn;
  }

  async #login(conn: TelnetConnection, signal: AbortSignal): Promise<void> {
    // Either a password prompt, or (no password needed) the welcome text followed by silence.
    const first = await conn.waitFor(PASSWORD_PROMPT, this.#opts.quietMs, signal);
    if (first === 'match') {
      conn.take();
      if (!this.#opts.password) throw new AdminChannelError('config', `telnet ${this.#where} asks for a password; set rcon.password (TelnetPassword)`);
      conn.write(this.#opts.password);
      await conn.waitFor(new RegExp(`${LOGON_OK.source}|${LOGON_BAD.source}|${PASSWORD_PROMPT.source}`, 'i'), null, signal);
      if (!LOGON_OK.test(conn.buffered)) throw new AdminChannelError('auth', `telnet ${this.#where} rejected the password; check rcon.password (TelnetPassword)`);
    } else if (!WELCOME.test(conn.buffered)) {
      throw new AdminChannelError('protocol', `telnet ${this.#where} does not look like a 7 Days to Die console`);
    }
    // Let the welcome block finish so it is not read as the first command's answer.
    await conn.waitFor(null, this.#opts.quietMs, signal);
    conn.take();
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#conn) this.#drop(this.#conn);
    return Promise.resolve();
  }
}
