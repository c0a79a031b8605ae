/** The simulated game server: used by `reconsync demo`, the tests, and anyone who wants a game to point the agent at. */
import { fileURLToPath } from 'node:url';

export { SimEvents, SimServer, startSimServer } from './game-server.ts';
export type { CommandLogEntry, SaveEvent, SimDeps, SimEventsMap, SimExit, SimOptions, SimPlayer, SimPlayerInput, SimPorts } from './game-server.ts';
export { simGameIds, simGames, isSimGameId, type SimGameId, type SimGame } from './games.ts';
export { resolveSimOptions, SimOptionsSchema, type ResolvedSimOptions } from './options.ts';
export { ARK_EMPTY_REPLY } from './commands.ts';

/** Absolute path of the CLI entry, for spawning a sim as its own process (`node --import tsx <simMainPath> ...`). */
export const simMainPath = fileURLToPath(new URL('./main.ts', import.meta.url));
