/**
 * Where the bot remembers the Discord messages it keeps editing (status board
 * pages, alert messages) so a hub restart edits the same ones. The hub adapts
 * its `discord_messages(channel_id, slot, message_id)` table to this.
 *
 * The bot also keeps two bookkeeping values under the reserved channel id
 * `META_CHANNEL` (never a real snowflake): the hash of the registered command
 * set and the list of status-board channels.
 */
export interface DiscordMessageStore {
  get(channelId: string, slot: string): string | null;
  set(channelId: string, slot: string, messageId: string): void;
  delete(channelId: string, slot: string): void;
}

export const META_CHANNEL = 'meta';

/** For tests and for running without a hub store. */
export class MemoryMessageStore implements DiscordMessageStore {
  readonly rows = new Map<string, string>();
  get(channelId: string, slot: string): string | null {
    return this.rows.get(`${channelId}\u0000${slot}`) ?? null;
  }
  set(channelId: string, slot: string, messageId: string): void {
    this.rows.set(`${channelId}\u0000${slot}`, messageId);
  }
  delete(channelId: string, slot: string): void {
    this.rows.delete(`${channelId}\u0000${slot}`);
  }
}
