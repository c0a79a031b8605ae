/** Tunables of the bot that are not in hub.yaml; one place, one default each (style.md §2). */
export interface DiscordBotOptions {
  /** How long a confirm button stays valid. */
  confirmTtlMs: number;
  /** Same alert (server + kind) within this window edits the first message instead of posting again. */
  alertCooldownMs: number;
  /** Minimum time between two progress edits of one interaction reply. */
  progressEditIntervalMs: number;
  /** Login retry backoff (doubling with jitter, capped). */
  loginRetryInitialMs: number;
  loginRetryMaxMs: number;
  /** Alerts kept while Discord is unreachable; older ones are dropped (and counted). */
  maxQueuedPosts: number;
  /** How often the board checks that its pages still exist (one GET per unchanged page); 0 = never. */
  boardCheckIntervalMs: number;
  /** Player joins and leaves within this window go to the events channel as one message. */
  playerFeedBatchMs: number;
  /** Least time between two edits of a /console reply (Discord allows ~5 edits per 5 s per channel). */
  consoleEditIntervalMs: number;
  /** Least time between two updates of the bot's presence (players online across servers). */
  presenceIntervalMs: number;
}

export const DefaultDiscordBotOptions = {
  confirmTtlMs: 60_000,
  alertCooldownMs: 15 * 60_000,
  progressEditIntervalMs: 2000,
  loginRetryInitialMs: 5000,
  loginRetryMaxMs: 10 * 60_000,
  maxQueuedPosts: 100,
  boardCheckIntervalMs: 5 * 60_000,
  playerFeedBatchMs: 10_000,
  consoleEditIntervalMs: 3000,
  presenceIntervalMs: 30_000,
} as const satisfies DiscordBotOptions;
