import type { Database, Statement } from 'better-sqlite3';

/** Where the Discord status board messages live, so a restarted hub edits the same messages. */
export class DiscordMessagesTable {
  readonly #get: Statement<[string, string], { message_id: string }>;
  readonly #set: Statement<[string, string, string, string]>;
  readonly #remove: Statement<[string, string]>;
  readonly #byChannel: Statement<[string], { slot: string; message_id: string }>;
  readonly #all: Statement<[], { channel_id: string; slot: string; message_id: string }>;

  constructor(db: Database) {
    this.#get = db.prepare('SELECT message_id FROM discord_messages WHERE channel_id = ? AND slot = ?');
    this.#set = db.prepare(`INSERT INTO discord_messages (channel_id, slot, message_id, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(channel_id, slot) DO UPDATE SET message_id = excluded.message_id, updated_at = excluded.updated_at`);
    this.#remove = db.prepare('DELETE FROM discord_messages WHERE channel_id = ? AND slot = ?');
    this.#byChannel = db.prepare('SELECT slot, message_id FROM discord_messages WHERE channel_id = ? ORDER BY slot');
    this.#all = db.prepare('SELECT channel_id, slot, message_id FROM discord_messages ORDER BY channel_id, slot');
  }

  get(channelId: string, slot: string): string | null {
    return this.#get.get(channelId, slot)?.message_id ?? null;
  }

  set(channelId: string, slot: string, messageId: string, at: string = new Date().toISOString()): void {
    this.#set.run(channelId, slot, messageId, at);
  }

  remove(channelId: string, slot: string): void {
    this.#remove.run(channelId, slot);
  }

  listChannel(channelId: string): { slot: string; messageId: string }[] {
    return this.#byChannel.all(channelId).map((r) => ({ slot: r.slot, messageId: r.message_id }));
  }

  list(): { channelId: string; slot: string; messageId: string }[] {
    return this.#all.all().map((r) => ({ channelId: r.channel_id, slot: r.slot, messageId: r.message_id }));
  }
}
