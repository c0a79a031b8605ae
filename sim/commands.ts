import type { SimGameId } from './games.ts';
import type { SimPlayer } from './options.ts';

/** What an admin command means to the sim. */
export type CommandAction =
  | 'save' | 'save-off' | 'save-on' | 'broadcast' | 'players' | 'stop'
  | 'echo' | 'info' | 'version' | 'time' | 'chat-log' | 'unknown';

/** Everything a command may read or do; the SimServer provides it. */
export interface CommandEffects {
  game: SimGameId;
  serverName: string;
  map: string;
  version: string;
  maxPlayers: number;
  startedAt: number;
  players(): SimPlayer[];
  /** True when a save answers before its files are written (slow save). */
  readonly slowSave: boolean;
  save(): Promise<void>;
  setAutosave(on: boolean): void;
  broadcast(message: string): void;
  requestStop(reason: string): void;
}

export interface ParsedCommand {
  /** Lower-cased first word (Rust's `global.` prefix removed). */
  name: string;
  action: CommandAction;
  /** Rest of the line, outer quotes removed. */
  args: string;
}

interface Spec {
  action: CommandAction;
  run(args: string, fx: CommandEffects): string | Promise<string>;
}

/** ARK answers an empty output with this text (games.md). */
export const ARK_EMPTY_REPLY = 'Server received, But no response!!';

const echo: Spec = { action: 'echo', run: (args) => args };

const save = (done: string, started = done): Spec => ({
  action: 'save',
  async run(_args, fx) {
    if (fx.slowSave) {
      // Like Minecraft's save-all and Palworld's REST save: the answer comes before the files settle.
      fx.save().catch(() => undefined);
      return started;
    }
    await fx.save();
    return done;
  },
});

const broadcast = (reply: string): Spec => ({
  action: 'broadcast',
  run(args, fx) {
    fx.broadcast(args);
    return reply.replace('{message}', args);
  },
});

const stop = (reply: string): Spec => ({
  action: 'stop',
  run(_args, fx) {
    fx.requestStop('admin command');
    return reply;
  },
});

const players = (render: (ps: SimPlayer[], fx: CommandEffects) => string): Spec => ({
  action: 'players',
  run: (_args, fx) => render(fx.players(), fx),
});

const arkTable: Record<string, Spec> = {
  saveworld: save('World Saved'),
  broadcast: broadcast(''),
  serverchat: broadcast(''),
  listplayers: players((ps) => (ps.length === 0 ? 'No Players Connected' : ps.map((p, i) => `${i}. ${p.name}, ${p.id}`).join('\n'))),
  doexit: stop('Exiting...'),
  getchat: { action: 'chat-log', run: () => '' },
  echo,
};

const tables: Partial<Record<SimGameId, Record<string, Spec>>> = {
  ark: arkTable,
  asa: arkTable,
  pzomboid: {
    save: save('World saved'),
    servermsg: broadcast('Message sent.'),
    players: players((ps) => `Players connected (${ps.length}): \n${ps.map((p) => `-${p.name}\n`).join('')}`),
    quit: stop('Quit'),
    echo,
  },
  minecraft: {
    'save-all': save('Saving the game (this may take a moment!)Saved the game', 'Saving the game (this may take a moment!)'),
    'save-off': { action: 'save-off', run: (_a, fx) => (fx.setAutosave(false), 'Automatic saving is now disabled') },
    'save-on': { action: 'save-on', run: (_a, fx) => (fx.setAutosave(true), 'Automatic saving is now enabled') },
    say: broadcast(''),
    list: players((ps, fx) => `There are ${ps.length} of a max of ${fx.maxPlayers} players online: ${ps.map((p) => p.name).join(', ')}`),
    stop: stop('Stopping the server'),
    echo,
  },
  rust: {
    'server.save': save('Saved 12,345 ents, cache(0.01), write(0.02), disk(0.00).'),
    say: broadcast(''),
    quit: stop('Quitting'),
    status: players(rustStatus),
    playerlist: players((ps) => JSON.stringify(ps.map((p) => ({
      SteamID: p.id, OwnerSteamID: '0', DisplayName: p.name, Ping: 20, Address: '127.0.0.1:50000',
      ConnectedSeconds: Math.round((Date.now() - p.joinedAt) / 1000), VoiationLevel: 0, CurrentLevel: 0, UnspentXp: 0, Health: 100,
    })), null, 2)),
    serverinfo: players((ps, fx) => JSON.stringify({
      Hostname: fx.serverName, MaxPlayers: fx.maxPlayers, Players: ps.length, Queued: 0, Joining: 0, EntityCount: 12345,
      GameTime: '06/01/2024 12:00:00', Uptime: Math.round((Date.now() - fx.startedAt) / 1000), Map: fx.map, Framerate: 60,
      Memory: 2048, Collections: 0, NetworkIn: 0, NetworkOut: 0, Restarting: false, SaveCreatedTime: new Date(fx.startedAt).toISOString(),
    }, null, 2)),
    echo,
  },
  '7dtd': {
    saveworld: save('World saved'),
    sa: save('World saved'),
    say: broadcast("Chat (from '-non-player-', entity id '-1', to 'Global'): 'Server': {message}"),
    shutdown: stop('Shutting server down...'),
    listplayers: players(sdtdPlayers),
    lp: players(sdtdPlayers),
    version: { action: 'version', run: (_a, fx) => `Game version: ${fx.version} Compatibility Version: ${fx.version}` },
    gettime: { action: 'time', run: () => 'Day 1, 08:00' },
    gt: { action: 'time', run: () => 'Day 1, 08:00' },
    echo,
  },
};

export function parseCommand(game: SimGameId, line: string): ParsedCommand {
  const trimmed = line.trim();
  const space = trimmed.search(/\s/);
  let name = (space < 0 ? trimmed : trimmed.slice(0, space)).toLowerCase();
  if (game === 'rust' && name.startsWith('global.')) name = name.slice('global.'.length);
  const args = unquote(space < 0 ? '' : trimmed.slice(space + 1).trim());
  const spec = tables[game]?.[name];
  return { name, action: spec?.action ?? 'unknown', args };
}

/** Runs a parsed command; unknown commands answer "Unknown command: <name>". */
export async function runCommand(parsed: ParsedCommand, fx: CommandEffects): Promise<string> {
  const spec = tables[fx.game]?.[parsed.name];
  if (!spec) return unknownReply(fx.game, parsed.name);
  const out = await spec.run(parsed.args, fx);
  if ((fx.game === 'ark' || fx.game === 'asa') && out === '') return ARK_EMPTY_REPLY;
  return out;
}

export function unknownReply(game: SimGameId, name: string): string {
  return game === '7dtd' ? `*** ERROR: Unknown command '${name}'` : `Unknown command: ${name}`;
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

function rustStatus(ps: SimPlayer[], fx: CommandEffects): string {
  const rows = ps.map((p) => `${p.id} "${p.name}" 20 ${Math.round((Date.now() - p.joinedAt) / 1000)}s 127.0.0.1 0.0 0`);
  return [
    `hostname: ${fx.serverName}`,
    `version : ${fx.version} secure (secure mode enabled, connected to Steam3)`,
    `map     : ${fx.map}`,
    `players : ${ps.length} (${fx.maxPlayers} max) (0 queued) (0 joining)`,
    '',
    'id                name ping connected addr owner violation kicks',
    ...rows,
  ].join('\n');
}

function sdtdPlayers(ps: SimPlayer[]): string {
  const rows = ps.map((p, i) =>
    `${i}. id=${171 + i}, ${p.name}, pos=(0.0, 61.0, 0.0), rot=(0.0, 0.0, 0.0), remote=True, health=100, deaths=0, zombies=0, players=0, score=${p.score}, level=1, pltfmid=Steam_${p.id}, crossid=EOS_0000${i}, ip=127.0.0.1, ping=20`);
  return [...rows, `Total of ${ps.length} in the game`].join('\n');
}
