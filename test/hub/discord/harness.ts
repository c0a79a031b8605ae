import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import pino from 'pino';
import type { DiscordConfig } from '../../../hub/config.ts';
import type { Clock } from '../../../protocol/index.ts';
import { MemoryMessageStore, startDiscordBot, type DiscordBot, type DiscordBotOptions } from '../../../hub/discord/index.ts';
import type { DiscordBotDeps } from '../../../hub/discord/bot.ts';
import { FakeDiscord, type FakeUser } from '../../support/fake-discord/index.ts';
import { MemoryHubService } from '../../support/memory-hub-service.ts';

export const ROLE = { viewer: '300000000000000001', operator: '300000000000000002', admin: '300000000000000003' } as const;

export const users = {
  /** No roles at all: may view (empty viewer list) but nothing else. */
  guest: { id: '200000000000000001', username: 'guest', roles: [] },
  operator: { id: '200000000000000002', username: 'olga', roles: [ROLE.operator] },
  admin: { id: '200000000000000003', username: 'adam', roles: [ROLE.admin] },
  operator2: { id: '200000000000000004', username: 'otto', roles: [ROLE.operator] },
} satisfies Record<string, FakeUser>;

/** pino into memory, so tests can assert on what was logged (and what was not). */
export class LogSink extends EventEmitter {
  readonly lines: Record<string, unknown>[] = [];
  readonly raw: string[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      const text = chunk.toString('utf8');
      this.raw.push(text);
      for (const line of text.split('\n').filter(Boolean)) this.lines.push(JSON.parse(line) as Record<string, unknown>);
      this.emit('line');
      cb();
    },
  });

  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.lines.find(pred);
        if (!hit) return;
        clearTimeout(timer);
        this.off('line', check);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.off('line', check);
        reject(new Error(`no matching log line within ${timeoutMs} ms; got:\n${this.raw.join('')}`));
      }, timeoutMs);
      this.on('line', check);
      check();
    });
  }
}

export interface HarnessOptions {
  config?: Partial<DiscordConfig>;
  options?: Partial<DiscordBotOptions>;
  store?: MemoryMessageStore;
  service?: MemoryHubService;
  fake?: FakeDiscord;
  clock?: Clock;
  random?: () => number;
  waitReady?: boolean;
  activity?: DiscordBotDeps['activity'];
}

export interface Harness {
  fake: FakeDiscord;
  service: MemoryHubService;
  store: MemoryMessageStore;
  bot: DiscordBot;
  config: DiscordConfig;
  logs: LogSink;
}

/** Fake Discord + in-memory service + the real bot (real discord.js), torn down after the test. */
export async function startHarness(t: TestContext, opts: HarnessOptions = {}): Promise<Harness> {
  const fake = opts.fake ?? (await FakeDiscord.start({ roles: Object.values(ROLE) }));
  const service = opts.service ?? new MemoryHubService();
  const store = opts.store ?? new MemoryMessageStore();
  const logs = new LogSink();
  const logger = pino({ level: 'debug' }, logs.stream);
  const config: DiscordConfig = {
    token: fake.token, applicationId: fake.applicationId, guildId: fake.guildId, apiBaseUrl: fake.apiBaseUrl,
    roles: { viewer: [], operator: [ROLE.operator], admin: [ROLE.admin] },
    boardEditIntervalMs: 300, ...opts.config,
  };
  const bot = await startDiscordBot({
    config, service, store, logger, clock: opts.clock, ...(opts.random ? { random: opts.random } : {}), ...(opts.activity ? { activity: opts.activity } : {}),
    options: { confirmTtlMs: 60_000, progressEditIntervalMs: 50, loginRetryInitialMs: 50, loginRetryMaxMs: 200, ...opts.options },
  });
  t.after(async () => {
    await bot.close();
    if (!opts.fake) await fake.close();
  });
  if (opts.waitReady ?? true) await bot.waitUntilReady(AbortSignal.timeout(10_000));
  return { fake, service, store, bot, config, logs };
}

export { waitFor } from '../../support/wait.ts';
