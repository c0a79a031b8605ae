import { ReconSyncError } from '../../protocol/index.ts';
import { errorMessage } from '../../lib/error-message.ts';
import type { AdminChannel } from '../types.ts';

/** One command on the game's admin channel, its failures as stable codes (NOT_SUPPORTED without one, ADMIN_CHANNEL). */
export async function runAdminCommand(admin: AdminChannel | null, serverName: string, command: string, signal?: AbortSignal): Promise<string> {
  if (!admin) throw new ReconSyncError('NOT_SUPPORTED', `${serverName} has no admin channel (RCON/telnet/REST) configured`);
  try {
    return await admin.exec(command, signal);
  } catch (err) {
    if (err instanceof ReconSyncError) throw err;
    throw new ReconSyncError('ADMIN_CHANNEL', `${admin.kind}: ${errorMessage(err)}`, { cause: err });
  }
}
