import type { AdminChannel, ResolvedServer } from './types.ts';
import type { Supervisor } from './supervisor/index.ts';
import type { ClosableStatusProbe } from './monitors/query.ts';

/**
 * One watched game server and everything the agent holds for it. Its own module because
 * agent.ts (which builds the units), handlers.ts and update/updater.ts (which use them) all
 * need the shape, and agent.ts imports those two: living in agent.ts it tied them in a loop.
 */
export interface ServerUnit {
  server: ResolvedServer;
  supervisor: Supervisor;
  admin: AdminChannel | null;
  probe: ClosableStatusProbe | null;
}
