import path from 'node:path';
import os from 'node:os';
import net from 'node:net';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { ServerConfigSchema } from '../../../agent/config.ts';
import { GameProfileSchema, type GameProfileInput } from '../../../games/profile.ts';
import type { AdminChannel, QueryResult, ResolvedServer, StatusProbe } from '../../../agent/types.ts';
import type { ServerState } from '../../../protocol/index.ts';
import { SupervisorEvents, type AlertEvent, type StateEvent } from '../../../agent/supervisor/events.ts';
import type { Supervisor } from '../../../agent/supervisor/supervisor.ts';
import { waitFor } from '../../support/wait.ts';
import { createLogger, type Logger } from '../../../lib/logger.ts';

/**
 * A tiny stand-in game: answers "ping" with "pong" on UDP (the status query)
 * unless hung, takes line commands on TCP (the admin channel: save / say / stop),
 * logs every command and signal to <dir>/commands.log, and writes its ports to
 * <dir>/ports.json once it listens. Modes: normal, crash (exits 3 soon after
 * start), mute (never answers the query), ignore-int (shrugs off SIGINT).
 * SIGUSR1 makes it hang (alive, no answers), SIGUSR2 makes it answer again.
 */
export const GAME_SCRIPT = `
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
const [dir, mode = 'normal'] = process.argv.slice(2);
const log = (line) => fs.appendFileSync(dir + '/commands.log', line + '\\n');
let hung = mode === 'mute';
if (mode === 'crash') setTimeout(() => process.exit(3), 30);
process.on('SIGUSR1', () => { hung = true; });
process.on('SIGUSR2', () => { hung = false; });
process.on('SIGINT', () => { if (mode === 'ignore-int') { log('SIGINT ignored'); return; } log('SIGINT'); process.exit(0); });
const udp = dgram.createSocket('udp4');
udp.on('message', (msg, r) => { if (!hung && msg.toString() === 'ping') udp.send('pong 3/10', r.port, r.address); });
const tcp = net.createServer((sock) => {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('error', () => {});
  sock.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      log(line);
      if (line === 'stop') sock.end('ok stop\\n', () => process.exit(0));
      else sock.write('ok ' + line + '\\n');
    }
  });
});
udp.bind(0, '127.0.0.1', () => tcp.listen(0, '127.0.0.1', () => {
  const ports = JSON.stringify({ udp: udp.address().port, tcp: tcp.address().port, pid: process.pid });
  fs.writeFileSync(dir + '/ports.json.tmp', ports);
  fs.renameSync(dir + '/ports.json.tmp', dir + '/ports.json');
}));
`;

export type GameMode = 'normal' | 'crash' | 'mute' | 'ignore-int';

export interface Sandbox {
  dir: string;
  dataDir: string;
  gameDir: string;
  script: string;
  /** Basename of the script: the "process name" tests adopt by. */
  scriptName: string;
  cleanup(): Promise<void>;
}

export async function makeSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-sup-'));
  // A name of its own, so a search by process name never finds another test's game.
  const scriptName = `game-${path.basename(dir).replace(/[^A-Za-z0-9]/g, '')}.mjs`;
  const script = path.join(dir, scriptName);
  await writeFile(script, GAME_SCRIPT);
  return {
    dir,
    dataDir: path.join(dir, 'data'),
    gameDir: dir,
    script,
    scriptName,
    async cleanup() {
      await killRecorded(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Kills whatever game process the sandbox's ports.json names (a test that failed midway leaves one). */
export async function killRecorded(dir: string): Promise<void> {
  const ports = await readPorts(dir).catch(() => null);
  if (ports) {
    try { process.kill(ports.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

export async function readPorts(dir: string): Promise<{ udp: number; tcp: number; pid: number }> {
  return JSON.parse(await readFile(path.join(dir, 'ports.json'), 'utf8')) as { udp: number; tcp: number; pid: number };
}

/** Whether the simulated game whose ports.json is in `dir` still runs. */
export async function gameAlive(dir: string): Promise<boolean> {
  const { pid } = await readPorts(dir);
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function readCommands(dir: string): Promise<string[]> {
  const text = await readFile(path.join(dir, 'commands.log'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

const testProfile: GameProfileInput = {
  id: 'testgame',
  name: 'Test Game',
  query: { kind: 'none', defaultPort: 27015 },
  admin: { kind: 'telnet', defaultPort: 8081, saveCommand: 'save', broadcastCommand: 'say {message}', stopCommand: 'stop' },
  saves: { paths: { linux: ['${installDir}/saves'], windows: ['${installDir}\\saves'] } },
  process: { names: { linux: ['game.mjs'], windows: ['game.exe'] } },
  stop: { method: 'admin' },
};

export interface ServerSetup {
  mode?: GameMode;
  managed?: boolean;
  platform?: 'linux' | 'windows';
  config?: Record<string, unknown>;
  processNames?: string[];
}

/** A ResolvedServer built through the real config and profile schemas. */
export function makeServer(box: Sandbox, setup: ServerSetup = {}): ResolvedServer {
  const managed = setup.managed ?? true;
  const start = { command: process.execPath, args: [box.script, box.gameDir, setup.mode ?? 'normal'], cwd: box.gameDir };
  const config = ServerConfigSchema.parse({
    id: 'test-1',
    game: 'testgame',
    name: 'Test One',
    ...(managed ? { start } : {}),
    restart: { onCrash: true, onHang: true, maxPerHour: 3, backoffMs: 20 },
    health: { intervalMs: 50, startGraceMs: 10_000, failures: 3, queryTimeoutMs: 150 },
    stop: { timeoutMs: 3000 },
    ...setup.config,
  });
  const profile = GameProfileSchema.parse(testProfile);
  return {
    id: config.id,
    name: config.name ?? profile.name,
    config,
    profile,
    platform: setup.platform ?? 'linux',
    query: { kind: 'none', host: '127.0.0.1', port: 27015, playersFromKeywords: false },
    admin: { kind: 'telnet', host: '127.0.0.1', port: 8081, password: null, insecureTls: false },
    savePaths: [path.join(box.gameDir, 'saves')],
    include: ['**/*'],
    exclude: [],
    sqlite: [],
    processNames: setup.processNames ?? [],
    start: managed ? { ...start, env: {} } : null,
    managed,
  };
}

/** Status probe for the stand-in game: a real UDP ping to the port it wrote down. */
export class UdpPingProbe implements StatusProbe {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  async query(signal?: AbortSignal): Promise<QueryResult> {
    const { udp } = await readPorts(this.dir);
    const sock = dgram.createSocket('udp4');
    try {
      sock.send('ping', udp, '127.0.0.1');
      const [msg] = (await once(sock, 'message', signal ? { signal } : {})) as [Buffer];
      const [online, max] = msg.toString().replace('pong ', '').split('/').map(Number);
      return { players: { online: online ?? 0, max: max ?? 0, names: [] }, map: 'test-map', version: '1.0' };
    } finally {
      sock.close();
    }
  }
}

/** Admin channel for the stand-in game: one TCP line command, one line reply. */
export class LineAdmin implements AdminChannel {
  readonly kind = 'telnet' as const;
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  async exec(command: string, signal?: AbortSignal): Promise<string> {
    const { tcp } = await readPorts(this.dir);
    const sock = net.connect(tcp, '127.0.0.1');
    const onAbort = () => sock.destroy(new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await once(sock, 'connect');
      sock.setEncoding('utf8');
      sock.write(`${command}\n`);
      let buf = '';
      while (!buf.includes('\n')) {
        const [chunk] = (await once(sock, 'data')) as [string];
        buf += chunk;
      }
      return buf.slice(0, buf.indexOf('\n'));
    } finally {
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
    }
  }
  async save(signal?: AbortSignal): Promise<void> { await this.exec('save', signal); }
  async broadcast(message: string, signal?: AbortSignal): Promise<void> { await this.exec(`say ${message}`, signal); }
  async stop(signal?: AbortSignal): Promise<void> { await this.exec('stop', signal); }
  async close(): Promise<void> {}
}

/** Records every state change and alert of a supervisor. */
export function record(sup: Supervisor): { states: StateEvent[]; alerts: AlertEvent[] } {
  const states: StateEvent[] = [];
  const alerts: AlertEvent[] = [];
  sup.on(SupervisorEvents.State, (e) => states.push(e));
  sup.on(SupervisorEvents.Alert, (e) => alerts.push(e));
  return { states, alerts };
}

export async function waitState(sup: Supervisor, state: ServerState, ms = 10_000): Promise<void> {
  await sup.waitFor(state, AbortSignal.timeout(ms));
}

/** Waits until `pred` holds after some supervisor event, with a deadline. */
export async function waitUntil(sup: Supervisor, pred: () => boolean, ms = 10_000): Promise<void> {
  await waitFor(pred, { timeoutMs: ms, what: 'a supervisor condition', wakeOn: { emitter: sup, events: [SupervisorEvents.Health, SupervisorEvents.State, SupervisorEvents.Alert] } });
}

/** Counts `n` more health checks. */
export async function healthChecks(sup: Supervisor, n: number, ms = 10_000): Promise<void> {
  const signal = AbortSignal.timeout(ms);
  for (let i = 0; i < n; i++) await once(sup, SupervisorEvents.Health, { signal });
}

/** Waits for the stand-in game to write ports.json for a process other than `notPid`. */
export async function waitGameUp(dir: string, notPid: number | null = null, ms = 10_000): Promise<{ udp: number; tcp: number; pid: number }> {
  return waitFor(async () => {
    const ports = await readPorts(dir).catch(() => null);
    return ports && ports.pid !== notPid ? ports : null;
  }, ms, 'the stand-in game to come up');
}

/** A real pino logger into memory: tests assert the supervisor logged no error (an illegal transition is one). */
export function memoryLogger(): { logger: Logger; entries: Array<{ level: number; msg: string; [k: string]: unknown }>; errors(): string[] } {
  const entries: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => { entries.push(JSON.parse(line)); } } });
  return { logger, entries, errors: () => entries.filter((e) => e.level >= 50).map((e) => `${e.msg}: ${JSON.stringify(e.err ?? '')}`) };
}
