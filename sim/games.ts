/**
 * What each simulated game runs and how it answers (games.md, "Per game").
 * One row per profile id; everything game-specific the sim does is decided here,
 * so the protocol modules stay game-agnostic.
 */
export const simGameIds = ['valheim', 'rust', 'ark', 'asa', '7dtd', 'palworld', 'enshrouded', 'satisfactory', 'pzomboid', 'minecraft'] as const;
export type SimGameId = (typeof simGameIds)[number];

/** The admin channel a game exposes; `none` = no way to ask it to save or stop. */
export type AdminKind = 'source-rcon' | 'webrcon' | 'telnet' | 'palworld-rest' | 'none';
export type RconDialect = 'srcds' | 'minecraft' | 'ark';

export interface SimGame {
  id: SimGameId;
  displayName: string;
  /** Steam A2S: null = the game does not answer A2S at all. */
  a2s: null | {
    appId: number;
    folder: string;
    gameName: string;
    /** 7DTD and Project Zomboid answer A2S on the game port itself. */
    onGamePort: boolean;
    emptyPlayerNames: boolean;
    timeoutRules: boolean;
    /** How the keywords (EDF 0x20) look: Rust carries counts, Valheim its version. */
    keywords: 'rust' | 'valheim' | 'plain';
    vac: boolean;
  };
  admin: AdminKind;
  rconDialect: RconDialect | null;
  /** Minecraft answers the Server List Ping on its game port (TCP). */
  serverListPing: boolean;
  /** Ports the real game uses by default (reference only; the sim binds 0 unless told). */
  defaultPorts: { game: number; query: number | null; rcon: number | null };
  defaults: { map: string; world: string; version: string; maxPlayers: number };
}

const row = (g: SimGame): SimGame => g;

export const simGames: Record<SimGameId, SimGame> = {
  valheim: row({
    id: 'valheim', displayName: 'Valheim',
    a2s: { appId: 892970, folder: 'valheim', gameName: '', onGamePort: false, emptyPlayerNames: true, timeoutRules: true, keywords: 'valheim', vac: false },
    admin: 'none', rconDialect: null, serverListPing: false,
    defaultPorts: { game: 2456, query: 2457, rcon: null },
    defaults: { map: 'Dedicated', world: 'Dedicated', version: '0.219.16', maxPlayers: 10 },
  }),
  enshrouded: row({
    id: 'enshrouded', displayName: 'Enshrouded',
    a2s: { appId: 1203620, folder: 'enshrouded', gameName: 'Enshrouded', onGamePort: false, emptyPlayerNames: false, timeoutRules: false, keywords: 'plain', vac: false },
    admin: 'none', rconDialect: null, serverListPing: false,
    defaultPorts: { game: 15636, query: 15637, rcon: null },
    defaults: { map: 'Embervale', world: '3ad85aea', version: '0.7.4.0', maxPlayers: 16 },
  }),
  rust: row({
    id: 'rust', displayName: 'Rust',
    a2s: { appId: 252490, folder: 'rust', gameName: 'Rust', onGamePort: false, emptyPlayerNames: false, timeoutRules: false, keywords: 'rust', vac: true },
    admin: 'webrcon', rconDialect: null, serverListPing: false,
    defaultPorts: { game: 28015, query: 28017, rcon: 28016 },
    defaults: { map: 'Procedural Map', world: 'my_server_identity', version: '2592', maxPlayers: 50 },
  }),
  ark: row({
    id: 'ark', displayName: 'ARK: Survival Evolved',
    a2s: { appId: 346110, folder: 'ark_survival_evolved', gameName: 'ARK: Survival Evolved', onGamePort: false, emptyPlayerNames: false, timeoutRules: false, keywords: 'plain', vac: false },
    admin: 'source-rcon', rconDialect: 'ark', serverListPing: false,
    defaultPorts: { game: 7777, query: 27015, rcon: 27020 },
    defaults: { map: 'TheIsland', world: 'TheIsland', version: '358.24', maxPlayers: 70 },
  }),
  asa: row({
    id: 'asa', displayName: 'ARK: Survival Ascended',
    a2s: null,
    admin: 'source-rcon', rconDialect: 'ark', serverListPing: false,
    defaultPorts: { game: 7777, query: null, rcon: 27020 },
    defaults: { map: 'TheIsland_WP', world: 'TheIsland_WP', version: '55.6', maxPlayers: 70 },
  }),
  '7dtd': row({
    id: '7dtd', displayName: '7 Days to Die',
    a2s: { appId: 251570, folder: '7DTD', gameName: '7 Days To Die', onGamePort: true, emptyPlayerNames: false, timeoutRules: false, keywords: 'plain', vac: false },
    admin: 'telnet', rconDialect: null, serverListPing: false,
    defaultPorts: { game: 26900, query: 26900, rcon: 8081 },
    defaults: { map: 'Navezgane', world: 'Navezgane', version: 'V 1.0 (b333)', maxPlayers: 8 },
  }),
  palworld: row({
    id: 'palworld', displayName: 'Palworld',
    a2s: null,
    admin: 'palworld-rest', rconDialect: null, serverListPing: false,
    defaultPorts: { game: 8211, query: null, rcon: 8212 },
    defaults: { map: 'Palpagos', world: '0A1B2C3D4E5F60718293A4B5C6D7E8F9', version: 'v0.5.1.0', maxPlayers: 32 },
  }),
  satisfactory: row({
    id: 'satisfactory', displayName: 'Satisfactory',
    // Its Lightweight Query and HTTPS API are not simulated: the sim only writes saves.
    a2s: null,
    admin: 'none', rconDialect: null, serverListPing: false,
    defaultPorts: { game: 7777, query: null, rcon: null },
    defaults: { map: 'Persistent_Level', world: 'Factory', version: '1.0.0', maxPlayers: 4 },
  }),
  pzomboid: row({
    id: 'pzomboid', displayName: 'Project Zomboid',
    a2s: { appId: 108600, folder: 'zomboid', gameName: 'Project Zomboid', onGamePort: true, emptyPlayerNames: false, timeoutRules: false, keywords: 'plain', vac: false },
    admin: 'source-rcon', rconDialect: 'srcds', serverListPing: false,
    defaultPorts: { game: 16261, query: 16261, rcon: 27015 },
    defaults: { map: 'Muldraugh, KY', world: 'servertest', version: '41.78.16', maxPlayers: 32 },
  }),
  minecraft: row({
    id: 'minecraft', displayName: 'Minecraft',
    a2s: null,
    admin: 'source-rcon', rconDialect: 'minecraft', serverListPing: true,
    defaultPorts: { game: 25565, query: 25565, rcon: 25575 },
    defaults: { map: 'world', world: 'world', version: '1.21.4', maxPlayers: 20 },
  }),
};

export function isSimGameId(value: string): value is SimGameId {
  return (simGameIds as readonly string[]).includes(value);
}
