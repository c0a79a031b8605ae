/**
 * A 7 Days to Die-like telnet console on 127.0.0.1:0: greeting with a telnet
 * option sequence, "Please enter password:", "Logon successful." or "Password
 * incorrect", a log echo of each command, output in two chunks, and "shutdown"
 * closing the connection.
 */
import net from 'node:net';
import { once } from 'node:events';

export interface TelnetFakeOptions {
  /** null = no password asked (localhost without TelnetPassword). */
  password: string | null;
  /** Output lines; null = no output at all (not even the echo). */
  handler?: (command: string) => string[] | null;
  exitCommands?: string[];
}

const IAC_WILL_ECHO = Buffer.from([0xff, 0xfb, 0x01]);
const GREETING = '*** Connected with 7DTD server.\r\n*** Server version: V 1.0 (b333) Compatibility Version: V 1.0\r\n*** Dedicated server only build\r\n\r\nServer IP:   Any\r\nServer port: 26900\r\nMax players: 8\r\n\r\n';
const WELCOME = "*** Connected with 7DTD server.\r\nPress 'help' to get a list of all commands. Press 'exit' to end session.\r\n\r\n";

export class TelnetFake {
  readonly server: net.Server;
  readonly commands: string[] = [];
  readonly sockets = new Set<net.Socket>();
  connections = 0;

  constructor(public options: TelnetFakeOptions) {
    this.server = net.createServer((s) => this.#onConnection(s));
  }

  async start(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as net.AddressInfo).port;
  }

  #onConnection(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write(Buffer.concat([IAC_WILL_ECHO, Buffer.from(GREETING)]));
    let authed = this.options.password === null;
    if (authed) socket.write(WELCOME);
    else socket.write('Please enter password:\r\n');
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, '');
        pending = pending.slice(nl + 1);
        if (!authed) {
          if (line === this.options.password) {
            authed = true;
            socket.write(`Logon successful.\r\n\r\n\r\n${WELCOME}`);
          } else {
            socket.write('Password incorrect, please enter password:\r\n');
          }
          continue;
        }
        this.#onCommand(socket, line);
      }
    });
  }

  #onCommand(socket: net.Socket, command: string): void {
    this.commands.push(command);
    const lines = this.options.handler ? this.options.handler(command) : [`ok ${command}`];
    if (lines === null) return;
    socket.write(`2024-05-01T12:00:00 123.456 INF Executing command '${command}' by Telnet from 127.0.0.1:50000\r\n`);
    if (this.options.exitCommands?.includes(command)) {
      socket.end();
      return;
    }
    // The rest comes a moment later in a second chunk, as a busy server sends it.
    const half = Math.ceil(lines.length / 2);
    socket.write(lines.slice(0, half).map((l) => `${l}\r\n`).join(''));
    setTimeout(() => {
      if (!socket.destroyed) socket.write(lines.slice(half).map((l) => `${l}\r\n`).join(''));
    }, 10);
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
