import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeGateway } from './gateway.ts';
import { InteractionInjector, type AutocompleteInput, type ButtonInput, type CommandInput, type InteractionHandle } from './interactions.ts';
import { FakeRest } from './rest.ts';
import { FakeState, type ChannelFault, type FakeMessage, type FakeThread, type RecordedCall } from './state.ts';

export { buttonIds, messageText, InteractionHandle } from './interactions.ts';
export type { ChannelFault, FakeMessage, FakeThread, FakeUser, RecordedCall, FakeInteraction } from './state.ts';
export { Limits, checkMessageBody, checkEmbeds } from './limits.ts';
export { snowflake } from './snowflake.ts';

export interface FakeDiscordOptions {
  token?: string;
  applicationId?: string;
  guildId?: string;
  /** Text channels of the guild (ids); messages to other channels answer 10003. */
  channels?: string[];
  /** Role ids that exist in the guild (members may carry them). */
  roles?: string[];
}

const EDIT_ROUTE = /^\/channels\/\d+\/messages\/\d+$/;

/**
 * A Discord for tests: REST under /api/v10 and a JSON gateway on one loopback
 * port. Point discord.js at `apiBaseUrl`. It records every REST call, keeps the
 * messages, injects interactions and records every broken Discord limit in
 * `violations` (tests assert that list is empty).
 */
export class FakeDiscord {
  readonly state = new FakeState();
  readonly token: string;
  readonly applicationId: string;
  readonly guildId: string;
  readonly channels: string[];
  readonly roles: string[];
  private server: Server | null = null;
  private gateway: FakeGateway | null = null;
  private injector: InteractionInjector | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private validToken: string;
  port = 0;

  constructor(opts: FakeDiscordOptions = {}) {
    this.token = opts.token ?? 'fake-bot-token';
    this.validToken = this.token;
    this.applicationId = opts.applicationId ?? '100000000000000100';
    this.guildId = opts.guildId ?? '100000000000000200';
    this.channels = opts.channels ?? ['100000000000000301', '100000000000000302', '100000000000000303'];
    this.roles = opts.roles ?? [];
  }

  static async start(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const fake = new FakeDiscord(opts);
    await fake.listen();
    return fake;
  }

  get apiBaseUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  get violations(): readonly string[] {
    return this.state.violations;
  }

  get calls(): readonly RecordedCall[] {
    return this.state.calls;
  }

  private async listen(): Promise<void> {
    const rest = new FakeRest(this.state, {
      applicationId: this.applicationId, guildId: this.guildId, token: () => this.validToken,
      gatewayUrl: () => `ws://127.0.0.1:${this.port}/gateway`, channelIds: () => this.channels,
    });
    const server = createServer((req, res) => {
      rest.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: String(err), code: 0 }));
      });
    });
    this.server = server;
    this.gateway = new FakeGateway(server, this.state, {
      applicationId: this.applicationId, botName: 'ReconSync', resumeUrl: () => `ws://127.0.0.1:${this.port}/gateway`,
      guild: { id: this.guildId, name: 'Test Guild', channels: this.channels.map((id) => ({ id, name: `channel-${id}` })), roles: this.roles },
    });
    const gw = this.gateway;
    this.injector = new InteractionInjector({
      state: this.state, applicationId: this.applicationId, guildId: this.guildId, defaultChannelId: this.channels[0] ?? '0',
      broadcast: (t, d) => gw.broadcast(t, d), timers: this.timers,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  /** Only this token is accepted from now on (others answer 401). */
  setValidToken(token: string): void {
    this.validToken = token;
  }

  /** Resolves once a bot has identified on the gateway (and got READY + GUILD_CREATE). */
  waitForBot(timeoutMs = 10_000): Promise<true> {
    return this.state.waitFor(() => (this.gateway?.identifiedCount ?? 0) > 0, { timeoutMs, what: 'a bot to identify on the gateway' });
  }

  /** How many IDENTIFYs the gateway has answered. */
  get identifies(): number {
    return this.gateway?.identifies ?? 0;
  }

  /** Presence updates (gateway op 3) the bot sent, oldest first. */
  get presences(): unknown[] {
    return this.gateway?.presences ?? [];
  }

  /** Ends every gateway session with `code` (e.g. 4004 authentication failed, which discord.js does not retry). */
  closeGatewaySessions(code: number): void {
    this.gateway?.closeSessions(code);
  }

  command(input: CommandInput): InteractionHandle {
    return this.inj().command(input);
  }

  autocomplete(input: AutocompleteInput): InteractionHandle {
    return this.inj().autocomplete(input);
  }

  pressButton(input: ButtonInput): InteractionHandle {
    return this.inj().button(input);
  }

  private inj(): InteractionInjector {
    if (!this.injector) throw new Error('fake discord: not started');
    return this.injector;
  }

  /** Visible messages in a channel, oldest first. */
  messagesIn(channelId: string): FakeMessage[] {
    return this.state.channelMessages(channelId);
  }

  message(id: string): FakeMessage | undefined {
    return this.state.messages.get(id);
  }

  /** Threads started from messages (POST /channels/{id}/messages/{id}/threads), oldest first. */
  get threads(): FakeThread[] {
    return [...this.state.threads.values()];
  }

  /** The next `count` thread creations answer 403 / 50013, as for a bot without Create Public Threads. */
  denyThreads(count = 1): void {
    this.failNext({ method: 'POST', route: /^\/channels\/\d+\/messages\/\d+\/threads$/, count, status: 403, code: 50013, message: 'Missing Permissions' });
  }

  /** As if a moderator deleted the message: later edits answer 10008. */
  deleteMessage(id: string): void {
    const m = this.state.messages.get(id);
    if (m) m.deleted = true;
    this.state.changed();
  }

  /** From now on every request to the channel answers as Discord does for `fault`; null lifts it (the admin fixed it). */
  setChannelFault(channelId: string, fault: ChannelFault | null): void {
    if (fault) this.state.channelFaults.set(channelId, fault);
    else this.state.channelFaults.delete(channelId);
  }

  /** Requests to a channel's REST routes so far (any method), e.g. to check the bot stopped trying. */
  channelCalls(channelId: string): RecordedCall[] {
    return this.state.calls.filter((c) => c.path === `/channels/${channelId}` || c.path.startsWith(`/channels/${channelId}/`));
  }

  /** The next `count` message edits answer 429 with Retry-After. */
  rateLimitEdits(count: number, retryAfterSec = 0.2): void {
    this.state.failures.push({ method: 'PATCH', route: EDIT_ROUTE, remaining: count, status: 429, code: 0, message: 'You are being rate limited.', retryAfterSec });
  }

  /** The next `count` message edits answer 400 / 30046 (too many edits to a message older than an hour). */
  failEditsTooOld(count: number): void {
    this.state.failures.push({ method: 'PATCH', route: EDIT_ROUTE, remaining: count, status: 400, code: 30046, message: 'Maximum number of edits to messages older than 1 hour reached. Try again later' });
  }

  /** Any injected failure: the next `count` requests matching method and path answer status/code. */
  failNext(spec: { method: string; route: RegExp; count: number; status: number; code: number; message?: string; retryAfterSec?: number }): void {
    this.state.failures.push({ method: spec.method, route: spec.route, remaining: spec.count, status: spec.status, code: spec.code, message: spec.message ?? 'injected', retryAfterSec: spec.retryAfterSec });
  }

  callsMatching(method: string, route: RegExp): RecordedCall[] {
    return this.state.calls.filter((c) => c.method === method && route.test(c.path));
  }

  waitFor<T>(probe: () => T | null | undefined | false, opts: { timeoutMs?: number; what?: string } = {}): Promise<T> {
    return this.state.waitFor(probe, opts);
  }

  /** Waits until a recorded call matches. */
  waitForCall(method: string, route: RegExp, opts: { after?: number; timeoutMs?: number } = {}): Promise<RecordedCall> {
    const after = opts.after ?? 0;
    return this.state.waitFor(() => this.state.calls.slice(after).find((c) => c.method === method && route.test(c.path)), {
      timeoutMs: opts.timeoutMs, what: `${method} ${route}`,
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.gateway?.close();
    const server = this.server;
    this.server = null;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}
