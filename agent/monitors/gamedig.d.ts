// gamedig 5 ships no type declarations; this covers the part ReconSync uses.
declare module 'gamedig' {
  export interface GameDigPlayer {
    name?: string;
    raw?: Record<string, unknown>;
  }
  export interface GameDigResult {
    name: string;
    map: string;
    password: boolean;
    version: string;
    numplayers: number;
    maxplayers: number;
    players: GameDigPlayer[];
    bots: GameDigPlayer[];
    queryPort: number;
    ping: number;
    connect: string;
    raw: Record<string, unknown> & { tags?: string[]; appId?: number; players?: unknown[] };
  }
  export interface GameDigQueryOptions {
    type: string;
    host: string;
    address?: string;
    port?: number;
    givenPortOnly?: boolean;
    maxRetries?: number;
    socketTimeout?: number;
    attemptTimeout?: number;
    requestPlayers?: boolean;
    requestRules?: boolean;
    portCache?: boolean;
    checkOldIDs?: boolean;
    debug?: boolean;
    [option: string]: unknown;
  }
  export class GameDig {
    constructor(runnerOpts?: { listenUdpPort?: number });
    query(options: GameDigQueryOptions): Promise<GameDigResult>;
    static query(options: GameDigQueryOptions): Promise<GameDigResult>;
  }
  export const games: Record<string, { name: string; options: { port?: number; port_query?: number; port_query_offset?: number | number[]; protocol: string }; extra?: { old_id?: string } }>;
  export const protocols: Record<string, unknown>;
}
