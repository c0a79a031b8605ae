import { once } from 'node:events';
import { ActivityType, Client, Events, GatewayIntentBits } from 'discord.js';
import { systemClock, type Clock } from '../../protocol/index.ts';
import { Backoff } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/logger.ts';
import type { DiscordConfig } from '../config.ts';
import type { HubService, HubServiceEvents } from '../service/types.ts';
import { AlertRouter } from './alerts.ts';
import { AuditTrail } from './audit.ts';
import { BoardManager, boardRefusalText } from './board.ts';
import { registerCommands } from './commands.ts';
import { ConfirmRegistry } from './confirm.ts';
import type { BotContext } from './context.ts';
import { EditThrottle } from './edit-throttle.ts';
import { channelRefusal, describeError, isInvalidToken, NotConnectedError, type ChannelRefusal } from './errors.ts';
import { handleInteraction } from './interactions.ts';
import type { DiscordMessageStore } from './message-store.ts';
import { DefaultDiscordBotOptions, type DiscordBotOptions } from './options.ts';
import { ChannelPoster, type DiscordMetrics } from './poster.ts';
import type { EventListener } from '../events/event-log.ts';
import type { OnlinePlayer } from '../events/players.ts';
import { PlayerFeed } from './player-feed.ts';
import { PresenceUpdater } from './presence.ts';

export interface DiscordBotDeps {
  config: DiscordConfig;
  service: HubService;
  store: DiscordMessageStore;
  logger: Logger;
  clock?: Clock;
  /** Uniform in [0, 1): the login backoff's jitter (injectable so tests know the waits). */
  random?: () => number;
  metrics?: DiscordMetrics;
  options?: Partial<DiscordBotOptions>;
  /** The hub's player tracking and events: /players and the events channel (discord.eventsChannelId). */
  activity?: {
    players: (serverId: string) => OnlinePlayer[] | null;
    subscribe: (listener: EventListener) => () => void;
  };
}

export interface DiscordBotStats {
  connected: boolean;
  loginAttempts: number;
  commandPuts: number;
  rateLimited: number;
  alertsSuppressed: number;
}

export interface DiscordBot {
  /** Logs out and stops every timer. */
  close(): Promise<void>;
  /** Resolves once logged in with commands registered (rejects on `signal`). */
  waitUntilReady(signal?: AbortSignal): Promise<void>;
  stats(): DiscordBotStats;
}

/**
 * Starts the bot and returns at once: login happens in the background and is
 * retried with backoff, so a bad token or an unreachable Discord never stops
 * the hub. Never throws.
 */
export async function startDiscordBot(deps: DiscordBotDeps): Promise<DiscordBot> {
  const bot = new Bot(deps);
  bot.start();
  return {
    close: () => bot.close(),
    waitUntilReady: (signal) => bot.waitUntilReady(signal),
    stats: () => bot.stats(),
  };
}

/** A session that lasted this long was healthy: the next login backoff starts from the beginning. */
const HEALTHY_SESSION_MS = 60_000;

class Bot {
  readonly #deps: DiscordBotDeps;
  /** Login retries: equal jitter (a wait in the upper half of the window), so Discord's login budget is not spent on instant retries. */
  readonly #backoff: Backoff;
  readonly #abort = new AbortController();
  readonly #clock: Clock;
  readonly #options: DiscordBotOptions;
  readonly #logger: Logger;
  readonly #ctx: BotContext;
  readonly #alerts: AlertRouter | null;
  readonly #boards: BoardManager;
  readonly #poster: ChannelPoster;
  readonly #presence: PresenceUpdater;
  #client: Client | null = null;
  #loop: Promise<void> = Promise.resolve();
  readonly #counters = { loginAttempts: 0, commandPuts: 0, rateLimited: 0 };
  readonly #unsubscribe: (() => void)[] = [];
  readonly #readyWaiters: (() => void)[] = [];
  /** Logged in and commands registered; false again while logging in anew. */
  #ready = false;

  constructor(deps: DiscordBotDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#options = { ...DefaultDiscordBotOptions, ...deps.options };
    this.#backoff = new Backoff({
      baseMs: this.#options.loginRetryInitialMs, capMs: this.#options.loginRetryMaxMs, healthyResetMs: HEALTHY_SESSION_MS,
      jitter: 'equal', random: deps.random ?? Math.random,
    });
    this.#logger = deps.logger.child({ component: 'discord' });
    const { config, service, store } = deps;
    const signal = this.#abort.signal;
    const poster = new ChannelPoster(() => (this.#client?.isReady() ? this.#client.rest : null), deps.metrics ?? null, this.#logger, this.#clock);
    this.#poster = poster;
    const throttle = new EditThrottle(this.#clock, config.boardEditIntervalMs, signal, this.#logger);
    this.#boards = new BoardManager({
      poster, store, throttle, clock: this.#clock, signal, logger: this.#logger, statusChannelId: config.statusChannelId ?? null,
      checkIntervalMs: this.#options.boardCheckIntervalMs,
      listServers: () => service.listServers(), onPages: (n) => deps.metrics?.discordStatusMessages.set(n),
      onRefused: (channelId, refusal) => this.#boardRefused(poster, channelId, refusal),
    });
    this.#alerts = config.alertChannelId
      ? new AlertRouter({
        channelId: config.alertChannelId, poster, throttle, clock: this.#clock, logger: this.#logger,
        cooldownMs: this.#options.alertCooldownMs, maxEntries: this.#options.maxQueuedPosts,
        getServer: (id) => service.listServers().find((s) => s.id === id) ?? null,
        alertRoles: config.alertRoles,
      })
      : null;
    if (config.eventsChannelId && deps.activity) {
      new PlayerFeed({ channelId: config.eventsChannelId, poster, clock: this.#clock, logger: this.#logger, batchMs: this.#options.playerFeedBatchMs, subscribe: deps.activity.subscribe, signal });
    }
    this.#presence = new PresenceUpdater({
      clock: this.#clock, intervalMs: this.#options.presenceIntervalMs, signal, listServers: () => service.listServers(),
      set: (text) => {
        const user = this.#client?.isReady() ? this.#client.user : null;
        if (!user) return false;
        user.setPresence({ activities: [{ name: text, type: ActivityType.Watching }], status: 'online' });
        return true;
      },
    });
    this.#ctx = {
      players: deps.activity?.players,
      config, service, clock: this.#clock, logger: this.#logger, options: this.#options, signal, boards: this.#boards,
      confirms: new ConfirmRegistry(this.#clock, this.#options.confirmTtlMs, signal),
      audit: new AuditTrail(service, poster, config.auditChannelId ?? null, this.#logger),
    };
  }

  /** Said once per refusal: the board stops, and the admin learns what to fix. */
  #boardRefused(poster: ChannelPoster, channelId: string, refusal: ChannelRefusal): void {
    const text = boardRefusalText(channelId, refusal);
    this.#logger.error({ channelId, status: refusal.status, code: refusal.code }, `discord: ${text.replace(/\*\*|<#|>/g, '')}`);
    const alertChannel = this.#deps.config.alertChannelId;
    if (!alertChannel || alertChannel === channelId) return;
    poster.send(alertChannel, { content: `📋 ${text}` }).catch((err: unknown) => {
      if (!(err instanceof NotConnectedError) && !channelRefusal(err)) this.#logger.warn({ ...describeError(err) }, 'discord: could not post to the alert channel');
    });
  }

  start(): void {
    const { service } = this.#deps;
    const on = <E extends keyof HubServiceEvents>(event: E, fn: (...args: HubServiceEvents[E]) => void) => {
      service.on(event, fn);
      this.#unsubscribe.push(() => service.off(event, fn));
    };
    on('server', () => {
      this.#boards.refresh();
      this.#presence.request();
    });
    on('backupRecorded', () => this.#boards.refresh());
    on('backupRemoved', () => this.#boards.refresh());
    on('agentOnline', () => this.#boards.refresh());
    on('agentOffline', () => this.#boards.refresh());
    on('alert', (a) => this.#alerts?.onAlert(a));
    // Agents gone and back: the hub's events, after its grace (alerts.offlineGraceMs), as the API and webhooks see them.
    const alerts = this.#alerts;
    const activity = this.#deps.activity;
    if (alerts && activity) this.#unsubscribe.push(activity.subscribe((e) => alerts.onEvent(e)));
    this.#loop = this.#run();
  }

  /** Login, serve until the session dies for good, back off, repeat. */
  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const client = this.#makeClient();
      const attempt = new AbortController();
      const stop = () => attempt.abort();
      signal.addEventListener('abort', stop, { once: true });
      let wait: number;
      try {
        this.#counters.loginAttempts += 1;
        const ready = once(client, Events.ClientReady, { signal: attempt.signal });
        ready.catch(() => undefined);
        await client.login(this.#deps.config.token);
        await ready;
        this.#client = client;
        this.#backoff.connected(this.#clock.now());
        this.#logger.info({ user: client.user?.tag }, 'discord: logged in');
        await this.#onReady(client);
        const [event] = (await once(client, Events.ShardDisconnect, { signal: attempt.signal })) as [{ code?: number }];
        // A session that was healthy for a while starts the backoff afresh; one that dies at once keeps doubling it.
        wait = this.#backoff.next(this.#clock.now());
        this.#logger.warn({ closeCode: event?.code ?? null, retryInMs: wait }, 'discord: gateway session closed for good; logging in again');
      } catch (err) {
        if (signal.aborted) break;
        wait = this.#backoff.next(this.#clock.now());
        if (isInvalidToken(err)) {
          this.#logger.error({ retryInMs: wait }, 'discord: Discord rejected the bot token (401). Check discord.token in hub.yaml (Developer Portal → Bot → Reset Token); the hub keeps running without Discord');
        } else {
          this.#logger.warn({ retryInMs: wait, err: describeError(err) }, 'discord: cannot log in to Discord; retrying. The hub keeps running without Discord');
        }
      } finally {
        signal.removeEventListener('abort', stop);
        attempt.abort();
      }
      this.#ready = false;
      this.#client = null;
      await client.destroy().catch(() => undefined);
      await this.#clock.sleep(wait, signal).catch(() => undefined);
    }
  }

  #makeClient(): Client {
    const { apiBaseUrl } = this.#deps.config;
    const client = new Client({
      intents: [GatewayIntentBits.Guilds],
      allowedMentions: { parse: [] },
      rest: apiBaseUrl ? { api: apiBaseUrl } : {},
    });
    client.on(Events.InteractionCreate, (i) => void handleInteraction(this.#ctx, i));
    client.on(Events.Error, (err) => this.#logger.warn({ err: describeError(err) }, 'discord: client error'));
    client.on(Events.Warn, (message) => this.#logger.warn({ message }, 'discord: client warning'));
    client.rest.on('response', (_req, res) => {
      if (res.status !== 429) return;
      this.#counters.rateLimited += 1;
      this.#deps.metrics?.discordRateLimited.inc();
    });
    return client;
  }

  async #onReady(client: Client): Promise<void> {
    try {
      if ((await registerCommands(client.rest, this.#deps.config, this.#deps.store, this.#logger)) === 'registered') this.#counters.commandPuts += 1;
    } catch (err) {
      this.#logger.error({ err: describeError(err) }, 'discord: registering slash commands failed; existing commands stay as they were');
    }
    this.#poster.loggedIn();
    this.#boards.refresh();
    this.#alerts?.resync();
    this.#presence.reset();
    this.#ready = true;
    this.#readyWaiters.splice(0).forEach((w) => w());
  }

  waitUntilReady(signal?: AbortSignal): Promise<void> {
    if (this.#ready) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal?.reason ?? new Error('aborted'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#readyWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  stats(): DiscordBotStats {
    return {
      connected: this.#client?.isReady() ?? false,
      ...this.#counters,
      alertsSuppressed: this.#alerts?.suppressed ?? 0,
    };
  }

  async close(): Promise<void> {
    this.#abort.abort();
    for (const u of this.#unsubscribe.splice(0)) u();
    await this.#loop;
    const c = this.#client;
    this.#client = null;
    await c?.destroy().catch(() => undefined);
  }
}
