/**
 * A Rust-like WebRCON server on 127.0.0.1:0: the password is the URL path; a
 * wrong one is accepted and closed at once (as Rust does) or refused with 401.
 * Before each reply it sends console noise: an unsolicited line, a chat line,
 * a non-JSON frame and a reply with someone else's identifier.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface WebRconFakeOptions {
  password: string;
  /** Reply text; null = never answer. Default "ok <command>". */
  handler?: (command: string) => string | null;
  wrongPassword?: 'close' | 'reject-401';
  exitCommands?: string[];
  noise?: boolean;
}

export class WebRconFake {
  readonly wss: WebSocketServer;
  readonly commands: string[] = [];
  connections = 0;

  constructor(public options: WebRconFakeOptions) {
    this.wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient: (info, cb) => {
        const ok = decodeURIComponent((info.req.url ?? '').slice(1)) === options.password;
        if (!ok && options.wrongPassword === 'reject-401') cb(false, 401, 'Unauthorized');
        else cb(true);
      },
    });
    this.wss.on('connection', (ws, req) => this.#onConnection(ws, decodeURIComponent((req.url ?? '').slice(1))));
  }

  async start(): Promise<number> {
    if (!this.wss.address()) await once(this.wss, 'listening');
    return this.port;
  }

  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  #onConnection(ws: WebSocket, password: string): void {
    this.connections++;
    if (password !== this.options.password) {
      ws.close();
      return;
    }
    ws.on('message', (data) => {
      let msg: { Identifier: number; Message: string };
      try {
        msg = JSON.parse(data.toString()) as { Identifier: number; Message: string };
      } catch {
        ws.close(1003);
        return;
      }
      this.commands.push(msg.Message);
      if (this.options.exitCommands?.includes(msg.Message)) {
        ws.terminate();
        return;
      }
      if (this.options.noise ?? true) {
        ws.send(JSON.stringify({ Message: '[event] cargo ship', Identifier: 0, Type: 'Generic', Stacktrace: '' }));
        ws.send(JSON.stringify({ Message: '{"Message":"hi","UserId":"1"}', Identifier: -1, Type: 'Chat', Stacktrace: '' }));
        ws.send('not json at all');
        ws.send(JSON.stringify({ Message: 'someone else', Identifier: msg.Identifier + 12345, Type: 'Generic', Stacktrace: '' }));
      }
      const reply = this.options.handler ? this.options.handler(msg.Message) : `ok ${msg.Message}`;
      if (reply === null) return;
      ws.send(JSON.stringify({ Message: reply, Identifier: msg.Identifier, Type: 'Generic', Stacktrace: '' }));
    });
  }

  dropAll(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
