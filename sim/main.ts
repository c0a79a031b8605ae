/**
 * Runs one simulated game server as a process (the demo and the tests use it
 * as "the game"). Prints one JSON line on stdout when every port answers:
 *   {"event":"ready","pid":..,"game":"ark","ports":{"game":..,"query":..,"rcon":..,"control":..},...}
 * Console lines go to stderr. SIGINT/SIGTERM save and exit 0, like Ctrl+C on
 * a real server; the game's stop command does the same.
 *
 *   node --import tsx sim/main.ts --game ark --rcon-password x --save-dir DIR --port-file FILE
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { SimEvents, startSimServer, type SimExit, type SimOptions, type SimServer } from './game-server.ts';
import { isSimGameId, simGameIds } from './games.ts';
import { stripUndefined } from '../lib/strip-undefined.ts';
import { errorMessage } from '../lib/error-message.ts';

const USAGE = `usage: sim/main.ts --game <${simGameIds.join('|')}> [options]
  --host 127.0.0.1  --game-port N  --query-port N  --rcon-port N  --control-port N|none   (0 = any free port)
  --rcon-password S  --save-dir DIR  --world NAME  --map NAME  --server-name S  --game-version S
  --players a,b,c  --max-players N  --password-protected
  --save-bytes N  --save-duration-ms N  --autosave-ms N  --command-log FILE
  --build-file FILE (the installed build, as the SteamCMD stand-in writes it: reported as the version; a broken build crashes at start)
  --port-file FILE  --pid-file FILE  --quiet  --exit-on-stdin-close (save and exit when the parent goes away)
  --mtu N  --no-info-challenge  --rotate-challenge  --empty-player-names  --timeout-players  --timeout-rules  --keywords S
  --rcon-dialect srcds|minecraft|ark  --mirror-trailer  --chat-interval-ms N  --no-console-noise
  --options-json '{...}'   (any SimOptions, merged under the flags)`;

const flags = {
  game: { type: 'string' }, host: { type: 'string' },
  'game-port': { type: 'string' }, 'query-port': { type: 'string' }, 'rcon-port': { type: 'string' }, 'control-port': { type: 'string' },
  'rcon-password': { type: 'string' }, 'save-dir': { type: 'string' }, world: { type: 'string' }, map: { type: 'string' },
  'server-name': { type: 'string' }, 'game-version': { type: 'string' }, players: { type: 'string' }, 'max-players': { type: 'string' },
  'password-protected': { type: 'boolean' }, 'save-bytes': { type: 'string' }, 'save-duration-ms': { type: 'string' },
  'autosave-ms': { type: 'string' }, 'command-log': { type: 'string' }, 'port-file': { type: 'string' }, 'pid-file': { type: 'string' },
  quiet: { type: 'boolean' }, mtu: { type: 'string' }, 'no-info-challenge': { type: 'boolean' }, 'rotate-challenge': { type: 'boolean' },
  'empty-player-names': { type: 'boolean' }, 'timeout-players': { type: 'boolean' }, 'timeout-rules': { type: 'boolean' },
  keywords: { type: 'string' }, 'rcon-dialect': { type: 'string' }, 'mirror-trailer': { type: 'boolean' },
  'chat-interval-ms': { type: 'string' }, 'no-console-noise': { type: 'boolean' }, 'options-json': { type: 'string' },
  'exit-on-stdin-close': { type: 'boolean' }, 'build-file': { type: 'string' },
  help: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof flags }>>['values'];

/**
 * ARK's first argument is a map URL, `TheIsland?listen?ServerAdminPassword=x?RCONPort=27020`:
 * the sim takes the map and the admin password from it like the real server,
 * so tests can pass secrets the way operators do.
 */
function fromMapUrl(positionals: string[]): { map?: string; rconPassword?: string } {
  const url = positionals[0];
  if (positionals.length > 1 || (url !== undefined && !url.includes('?'))) throw new UsageError(`unexpected argument(s) ${positionals.join(' ')}; only an ARK-style map URL (Map?key=value?...) is accepted`);
  if (url === undefined) return {};
  const [map, ...pairs] = url.split('?');
  const settings = new Map(pairs.map((p) => [p.split('=')[0]!.toLowerCase(), p.slice(p.indexOf('=') + 1)] as const));
  return { ...(map ? { map } : {}), ...(settings.has('serveradminpassword') ? { rconPassword: settings.get('serveradminpassword')! } : {}) };
}

const int = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got "${v}"`);
  return n;
};

class UsageError extends Error {}

/** Flags to SimOptions; --options-json is the base, explicit flags win. */
function optionsFromArgs(v: Values, positionals: string[] = []): SimOptions {
  if (!v.game || !isSimGameId(v.game)) throw new UsageError(`--game must be one of ${simGameIds.join(', ')}`);
  const base = v['options-json'] ? z.record(z.string(), z.unknown()).parse(JSON.parse(v['options-json'])) : {};
  const control = v['control-port'] === 'none' ? null : int('control-port', v['control-port']);
  const baseObj = (k: string): Record<string, unknown> => (base[k] && typeof base[k] === 'object' ? base[k] as Record<string, unknown> : {});
  return {
    ...base,
    ...fromMapUrl(positionals),
    ...stripUndefined({
      game: v.game, host: v.host, rconPassword: v['rcon-password'], saveDir: v['save-dir'], world: v.world, map: v.map,
      serverName: v['server-name'], version: v['game-version'],
      players: v.players === undefined ? undefined : v.players.split(',').map((s) => s.trim()).filter(Boolean),
      maxPlayers: int('max-players', v['max-players']), passwordProtected: v['password-protected'],
      saveBytes: int('save-bytes', v['save-bytes']), saveDurationMs: int('save-duration-ms', v['save-duration-ms']),
      autosaveMs: int('autosave-ms', v['autosave-ms']), commandLog: v['command-log'],
    }),
    ports: {
      ...baseObj('ports'),
      ...stripUndefined({ game: int('game-port', v['game-port']), query: int('query-port', v['query-port']), rcon: int('rcon-port', v['rcon-port']), control }),
    },
    a2s: {
      ...baseObj('a2s'),
      ...stripUndefined({
        mtu: int('mtu', v.mtu), infoChallenge: v['no-info-challenge'] ? false : undefined, rotateChallenge: v['rotate-challenge'],
        emptyPlayerNames: v['empty-player-names'], timeoutPlayers: v['timeout-players'], timeoutRules: v['timeout-rules'], keywords: v.keywords,
      }),
    },
    rcon: { ...baseObj('rcon'), ...stripUndefined({ dialect: v['rcon-dialect'] as 'srcds' | 'minecraft' | 'ark' | undefined, mirrorTrailer: v['mirror-trailer'] }) },
    webrcon: {
      ...baseObj('webrcon'),
      ...stripUndefined({ chatIntervalMs: int('chat-interval-ms', v['chat-interval-ms']), consoleNoise: v['no-console-noise'] ? false : undefined }),
    },
  } as SimOptions;
}

const BuildMarkerSchema = z.object({ buildid: z.string(), crash: z.boolean().default(false) });

/**
 * The build the "game files" hold (test/support/steamcmd writes it on install).
 * Missing or half-installed files and builds marked broken end the process
 * at start, like a real server whose update went wrong.
 */
function readBuild(file: string, tag: string): string {
  let marker: z.infer<typeof BuildMarkerSchema>;
  try {
    marker = BuildMarkerSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    process.stderr.write(`${tag} cannot start: game files missing or damaged (${file}: ${errorMessage(err)})\n`);
    process.exit(1);
  }
  if (marker.crash) {
    process.stderr.write(`${tag} Fatal error! build ${marker.buildid} crashed while loading the world\n`);
    process.exit(1);
  }
  return marker.buildid;
}

/** Written whole or not at all, so a reader polling the file never sees half a line. */
function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

async function main(): Promise<void> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ options: flags, strict: true, allowPositionals: true }));
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let options: SimOptions;
  try {
    options = optionsFromArgs(values, positionals);
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n${USAGE}\n`);
    process.exit(2);
  }
  const quiet = values.quiet === true;
  const tag = `[sim ${options.game}]`;
  if (values['build-file']) options = { ...options, version: readBuild(values['build-file'], tag) };
  const log = (line: string) => {
    if (!quiet) process.stderr.write(`${new Date().toISOString()} ${tag} ${line}\n`);
  };

  let sim: SimServer;
  try {
    sim = await startSimServer(options, { log });
  } catch (err) {
    process.stderr.write(`${tag} failed to start: ${errorMessage(err)}\n`);
    process.exit(1);
  }
  const pidFile = values['pid-file'];
  sim.on(SimEvents.Exit, (exit: SimExit) => {
    if (pidFile) rmSync(pidFile, { force: true });
    if (exit.signal) {
      process.kill(process.pid, exit.signal);
      // A signal Node handles itself must still end the process.
      setTimeout(() => process.exit(1), 100).unref();
      return;
    }
    process.exit(exit.code ?? 1);
  });

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (sim.hung && sim.options.hangIgnoresSignals) {
      log(`${sig} ignored: the server is hung`);
      return;
    }
    signals += 1;
    // A second Ctrl+C while saving quits at once, as the real servers do.
    if (signals > 1) process.exit(130);
    void sim.stop(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (process.platform === 'win32') process.on('SIGBREAK', onSignal);
  if (values['exit-on-stdin-close']) {
    // The parent (demo, agent) holds our stdin; when it dies the pipe closes and we stop too.
    process.stdin.on('end', () => void sim.stop('stdin closed'));
    process.stdin.on('error', () => void sim.stop('stdin closed'));
    process.stdin.resume();
  }

  const ready = {
    event: 'ready', pid: process.pid, game: sim.options.game, ports: sim.ports, saveDir: sim.options.saveDir,
    generation: sim.generation, commandLog: sim.options.commandLog,
  };
  if (pidFile) writeAtomic(pidFile, `${process.pid}\n`);
  if (values['port-file']) writeAtomic(values['port-file'], `${JSON.stringify(ready)}\n`);
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  log(`ready: ${JSON.stringify(sim.ports)}`);
}

process.on('uncaughtException', (err) => {
  process.stderr.write(`[sim] crashed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

await main();
