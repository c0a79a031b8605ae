import net from 'node:net';
import type { Listener, SimContext } from './context.ts';
import { listen, remoteOf, tracked } from './tcp.ts';
import { errorMessage } from '../lib/error-message.ts';

/** 7DTD closes the session after this many wrong passwords. */
const MAX_PASSWORD_TRIES = 3;
/** Longest input line kept; a client that never sends a newline is cut off. */
const MAX_LINE = 8 * 1024;
const IAC = 0xff;

/**
 * 7 Days to Die telnet (games.md): "Please enter password:", then one command
 * per line. Each answer is a single write ending in CRLF, which is what
 * line-oriented clients (and gamedig's sdtd) wait for.
 */
export async function startTelnetServer(ctx: SimContext, host: string, port: number): Promise<Listener> {
  const server = net.createServer((socket) => serve(ctx, socket));
  const bound = await listen(server, host, port);
  return tracked(server, bound);
}

function serve(ctx: SimContext, socket: net.Socket): void {
  const remote = remoteOf(socket);
  const o = ctx.options;
  let authed = false;
  let tries = 0;
  let pending = '';
  let chain = Promise.resolve();
  const write = (text: string) => {
    if (!socket.destroyed) socket.write(text.replace(/\r?\n/g, '\r\n'));
  };

  const welcome = () => [
    'Logon successful.', '', '',
    '*** Connected with 7DTD server.',
    `*** Server version: ${o.version} Compatibility Version: ${o.version}`,
    '*** Dedicated server only build', '',
    'Server IP:   Any',
    `Server port: ${ctx.ports.game}`,
    `Max players: ${o.maxPlayers}`,
    'Game mode:   GameModeSurvival',
    `World:       ${o.map}`,
    `Game name:   ${o.world}`,
    'Difficulty:  2', '',
    "Press 'help' to get a list of all commands. Press 'exit' to end session.", '', '',
  ].join('\n');

  const handleLine = async (line: string): Promise<void> => {
    await ctx.responsive();
    if (socket.destroyed) return;
    if (!authed) {
      if (line === o.rconPassword) {
        authed = true;
        write(welcome());
        return;
      }
      tries += 1;
      ctx.log(`telnet: bad password from ${remote}`);
      if (tries >= MAX_PASSWORD_TRIES) {
        write('Password incorrect, closing connection.\n');
        socket.end();
        return;
      }
      write('Password incorrect, please enter password:\n');
      return;
    }
    if (line === '') return;
    if (line.toLowerCase() === 'exit') {
      socket.end();
      return;
    }
    const logLine = `${new Date().toISOString().slice(0, 19)} ${uptime(ctx)} INF Executing command '${line}' by Telnet from ${remote}`;
    const out = await ctx.exec(line, 'telnet', remote);
    write(`${logLine}\n${out}${out.endsWith('\n') ? '' : '\n'}`);
  };

  socket.on('data', (chunk: Buffer) => {
    pending += stripTelnetNegotiation(chunk).toString('utf8');
    if (pending.length > MAX_LINE && !pending.includes('\n')) {
      socket.destroy();
      return;
    }
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, '').trim();
      pending = pending.slice(nl + 1);
      chain = chain.then(() => handleLine(line)).catch((err: unknown) => ctx.log(`telnet: ${errorMessage(err)}`));
    }
  });
  socket.on('error', () => undefined);
  // The prompt comes at once, like the real server; a hung server stays silent.
  void ctx.responsive().then(() => write('Please enter password:\n'));
}

/** Drops IAC option negotiation (IAC DO/DONT/WILL/WONT x, IAC SB ... IAC SE) some clients send. */
export function stripTelnetNegotiation(buf: Buffer): Buffer {
  if (!buf.includes(IAC)) return buf;
  const out: number[] = [];
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b !== IAC) {
      out.push(b);
      continue;
    }
    const cmd = buf[i + 1];
    if (cmd === IAC) {
      out.push(IAC);
      i += 1;
    } else if (cmd === 0xfa) {
      const end = buf.indexOf(Buffer.from([IAC, 0xf0]), i + 2);
      i = end < 0 ? buf.length : end + 1;
    } else if (cmd !== undefined && cmd >= 0xfb && cmd <= 0xfe) {
      i += 2;
    } else {
      i += 1;
    }
  }
  return Buffer.from(out);
}

function uptime(ctx: SimContext): string {
  return ((Date.now() - ctx.startedAt) / 1000).toFixed(3);
}
