import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import type { Clock } from '../../protocol/index.ts';
import type { WebhookConfig } from '../config.ts';
import type { EventLog } from '../events/event-log.ts';
import type { Store } from '../store/index.ts';
import { DefaultWebhookLimits, WebhookQueue, type WebhookLimits } from './queue.ts';

export interface WebhooksDeps {
  hooks: readonly WebhookConfig[];
  store: Store;
  events: EventLog;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  version: string;
  limits?: Partial<WebhookLimits>;
  fetch?: typeof fetch;
}

/** hub.yaml alerts.webhooks: one independent queue per endpoint. */
export class Webhooks {
  readonly queues: WebhookQueue[];

  constructor(deps: WebhooksDeps) {
    const limits = { ...DefaultWebhookLimits, ...deps.limits };
    const deliveries = new Counter({
      name: 'reconsync_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by format and outcome (ok, retry, gave_up)',
      labelNames: ['format', 'outcome'],
      registers: [deps.registry],
    });
    const logger = deps.logger.child({ component: 'webhooks' });
    this.queues = deps.hooks.map((hook) => new WebhookQueue({
      hook, store: deps.store, events: deps.events, clock: deps.clock, logger, limits,
      userAgent: `ReconSync/${deps.version}`,
      onOutcome: (o) => deliveries.labels(hook.format, o).inc(),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    }));
  }

  /** Starts delivering (the hub does it when it listens): a built hub sends nothing. */
  start(): void {
    for (const q of this.queues) q.start();
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
  }
}
