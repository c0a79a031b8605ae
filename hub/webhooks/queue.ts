import { createHash } from 'node:crypto';
import { Backoff } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Clock } from '../../protocol/index.ts';
import type { WebhookConfig } from '../config.ts';
import type { EventLog } from '../events/event-log.ts';
import type { HubEvent } from '../../protocol/event-kinds.ts';
import type { Store } from '../store/index.ts';
import { webhookRequest } from './format.ts';

export interface WebhookLimits {
  /** First retry after this; doubled per failed attempt. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Attempts per event before it is given up (logged and counted); the queue then moves on. */
  maxAttempts: number;
}

export const DefaultWebhookLimits = { retryBaseMs: 2_000, retryMaxMs: 5 * 60_000, maxAttempts: 12 } satisfies WebhookLimits;

export type DeliveryOutcome = 'ok' | 'retry' | 'gave_up';

export interface WebhookQueueDeps {
  hook: WebhookConfig;
  store: Store;
  events: EventLog;
  clock: Clock;
  logger: Logger;
  limits: WebhookLimits;
  userAgent: string;
  /** Counted per attempt (metrics). */
  onOutcome: (outcome: DeliveryOutcome) => void;
  fetch?: typeof fetch;
  /** Uniform in [0, 1): the retry jitter (default Math.random). */
  random?: () => number;
}

/** Where the webhook's position is stored: a hash, since a Discord or Slack URL is itself a credential. */
export function webhookKey(hook: Pick<WebhookConfig, 'url' | 'format'>): string {
  return createHash('sha256').update(`${hook.format}\n${hook.url}`).digest('hex');
}

/** The URL without path, query or credentials, for logs. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

/**
 * One endpoint's deliveries, in event order, one at a time. The queue is the
 * events table itself read after a stored cursor, so what was not delivered
 * before a hub restart is delivered after it (at least once: a receiver
 * de-duplicates by event id). Each endpoint has its own loop, timeout and
 * backoff: a dead one only ever waits for itself.
 */
export class WebhookQueue {
  readonly key: string;
  readonly #d: WebhookQueueDeps;
  readonly #stop = new AbortController();
  readonly #log: Logger;
  /** Retry waits of the event being delivered: equal jitter, so many hubs retrying one receiver do not line up. */
  readonly #backoff: Backoff;
  #cursor: number;
  #running: Promise<void> | null = null;
  #again = false;
  #unsubscribe: () => void = () => {};

  constructor(deps: WebhookQueueDeps) {
    this.#d = deps;
    this.key = webhookKey(deps.hook);
    this.#log = deps.logger.child({ webhook: origin(deps.hook.url), format: deps.hook.format });
    this.#backoff = new Backoff({ baseMs: deps.limits.retryBaseMs, capMs: deps.limits.retryMaxMs, jitter: 'equal', random: deps.random ?? Math.random });
    const stored = deps.store.hubEvents.cursor(this.key);
    // A new endpoint starts with the next event: it is not sent the hub's whole history.
    this.#cursor = stored ?? deps.events.lastId;
    if (stored === undefined) deps.store.hubEvents.setCursor(this.key, this.#cursor, new Date(deps.clock.now()).toISOString());
  }

  start(): void {
    this.#unsubscribe = this.#d.events.subscribe(() => this.wake());
    this.wake();
  }

  /** The last event id delivered or given up. */
  get cursor(): number {
    return this.#cursor;
  }

  wake(): void {
    if (this.#stop.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#drain().finally(() => {
      this.#running = null;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
  }

  async close(): Promise<void> {
    this.#stop.abort();
    this.#unsubscribe();
    await this.#running;
  }

  async #drain(): Promise<void> {
    const kinds = this.#d.hook.events;
    while (!this.#stop.signal.aborted) {
      this.#again = false;
      let next: HubEvent | undefined;
      try {
        [next] = this.#d.store.hubEvents.list({ since: this.#cursor, limit: 1, ...(kinds ? { kinds } : {}) });
      } catch (err) {
        this.#log.warn({ err }, 'webhook: could not read the next event; tried again with the next one');
        return;
      }
      if (!next) return;
      const delivered = await this.#deliver(next);
      if (delivered === 'stopped') return;
      this.#cursor = next.id;
      try {
        this.#d.store.hubEvents.setCursor(this.key, next.id, new Date(this.#d.clock.now()).toISOString());
      } catch (err) {
        // Not fatal: after a restart this event is sent again, which at-least-once allows.
        this.#log.warn({ err, eventId: next.id }, 'webhook: could not store the delivery position');
      }
    }
  }

  async #deliver(e: HubEvent): Promise<'ok' | 'gave_up' | 'stopped'> {
    const { hook, limits } = this.#d;
    const doFetch = this.#d.fetch ?? fetch;
    const req = webhookRequest(hook, e, this.#d.userAgent);
    this.#backoff.reset();
    for (let attempt = 1; ; attempt += 1) {
      let wait: number | null = null;
      let problem: string;
      try {
        const res = await doFetch(hook.url, {
          method: 'POST',
          headers: req.headers,
          body: req.body,
          redirect: 'error',
          signal: AbortSignal.any([AbortSignal.timeout(hook.timeoutMs), this.#stop.signal]),
        });
        // The answer's body is not needed; reading it frees the connection.
        await res.body?.cancel().catch(() => {});
        if (res.ok) {
          this.#d.onOutcome('ok');
          return 'ok';
        }
        problem = `HTTP ${res.status}`;
        const retryAfter = Number(res.headers.get('retry-after'));
        if (res.status === 429 && Number.isFinite(retryAfter) && retryAfter > 0) wait = retryAfter * 1000;
      } catch (err) {
        if (this.#stop.signal.aborted) return 'stopped';
        problem = err instanceof Error ? (err.name === 'TimeoutError' ? `no answer within ${hook.timeoutMs} ms` : (err.cause instanceof Error ? err.cause.message : err.message)) : String(err);
      }
      if (attempt >= limits.maxAttempts) {
        this.#d.onOutcome('gave_up');
        this.#log.error({ eventId: e.id, kind: e.kind, attempts: attempt, problem }, 'webhook: gave up on an event after every retry; the queue moves on (the event stays in GET /api/v1/events)');
        return 'gave_up';
      }
      this.#d.onOutcome('retry');
      // The window doubles with every attempt, also one answered with Retry-After (which then sets the wait).
      const backoff = this.#backoff.next(this.#d.clock.now());
      const delay = wait !== null ? Math.min(limits.retryMaxMs, wait) : backoff;
      this.#log.warn({ eventId: e.id, kind: e.kind, attempt, problem, retryInMs: Math.round(delay) }, 'webhook: delivery failed; retrying');
      try {
        await this.#d.clock.sleep(delay, this.#stop.signal);
      } catch {
        return 'stopped';
      }
    }
  }
}
