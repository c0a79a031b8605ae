import type { Clock } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import type { DiscordConfig } from '../config.ts';
import type { OnlinePlayer } from '../events/players.ts';
import type { HubService } from '../service/types.ts';
import type { AuditTrail } from './audit.ts';
import type { BoardManager } from './board.ts';
import type { ConfirmRegistry } from './confirm.ts';
import type { DiscordBotOptions } from './options.ts';

/** What every interaction handler may use; built once by the bot. */
export interface BotContext {
  config: DiscordConfig;
  service: HubService;
  clock: Clock;
  logger: Logger;
  options: DiscordBotOptions;
  confirms: ConfirmRegistry;
  audit: AuditTrail;
  boards: BoardManager;
  /** Who is on a server and for how long (the hub's player tracking); absent without it. */
  players?: ((serverId: string) => OnlinePlayer[] | null) | undefined;
  /** Aborted when the bot closes; passed to long service calls. */
  signal: AbortSignal;
}
