import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { HubConfigSchema } from '../../../hub/config.ts';
import type { Hub } from '../../../hub/hub.ts';
import { webhookRequest } from '../../../hub/webhooks/format.ts';
import type { HubEvent } from '../../../protocol/event-kinds.ts';
import { WebhookReceiver } from '../../support/webhook-receiver.ts';
import { startHub, tempDir, waitFor } from '../helpers.ts';

const SECRET = 'webhook-secret-0123456789';
const fast = { retryBaseMs: 20, retryMaxMs: 100, maxAttempts: 5 };

function hubWith(dir: string, webhooks: unknown[], extra: Record<string, unknown> = {}): Promise<Hub> {
  return startHub(dir, { config: { listen: { host: '127.0.0.1', port: 0 }, dataDir: dir, api: { token: 'test-api-token-0123456789abcdef' }, alerts: { webhooks } } as never, webhooks: fast, ...extra });
}

function emit(hub: Hub, kind: 'crash' | 'backup_ok' | 'gave_up', serverId = 's1', message = `${kind} happened`): HubEvent {
  const e = hub.events.append({ at: new Date().toISOString(), kind, agentId: 'a1', serverId, message, data: { n: 1 } });
  assert.ok(e);
  return e;
}

describe('webhooks', () => {
  it('format json: the event as stored, signed with HMAC-SHA256 of the raw body, only the kinds asked for', async (t) => {
    const tmp = await tempDir();
    const rx = await WebhookReceiver.start();
    const hub = await hubWith(tmp.dir, [{ url: rx.url, format: 'json', secret: SECRET, events: ['crash', 'gave_up'] }]);
    t.after(async () => { await hub.close(); await rx.close(); await tmp.cleanup(); });

    emit(hub, 'backup_ok');
    const crash = emit(hub, 'crash');
    const gaveUp = emit(hub, 'gave_up');
    await rx.until((r) => r.length >= 2);
    const [first, second] = rx.received;
    const expected = createHmac('sha256', SECRET).update(first!.body).digest('hex');
    assert.equal(first!.headers['x-reconsync-signature'], `sha256=${expected}`);
    assert.equal(first!.headers['x-reconsync-event-id'], String(crash.id));
    assert.equal(first!.headers['content-type'], 'application/json');
    const body = JSON.parse(first!.body) as HubEvent;
    assert.deepEqual(body, crash);
    assert.deepEqual(Object.keys(body).sort(), ['agentId', 'at', 'data', 'id', 'kind', 'message', 'serverId', 'severity']);
    assert.equal((JSON.parse(second!.body) as HubEvent).id, gaveUp.id);
    assert.equal(rx.received.length, 2, 'backup_ok was not asked for');
  });

  it('retries with backoff until the endpoint takes it, in order, same event id each time', async (t) => {
    const tmp = await tempDir();
    const rx = await WebhookReceiver.start();
    let fails = 2;
    rx.answer = () => (fails-- > 0 ? 503 : 200);
    const hub = await hubWith(tmp.dir, [{ url: rx.url, format: 'json', secret: SECRET }]);
    t.after(async () => { await hub.close(); await rx.close(); await tmp.cleanup(); });
    const a = emit(hub, 'crash');
    const b = emit(hub, 'gave_up');
    await rx.until((r) => r.length >= 4);
    assert.deepEqual(rx.received.map((r) => Number(r.headers['x-reconsync-event-id'])), [a.id, a.id, a.id, b.id]);
    // The receiver records a request before it answers: wait for the hub to have read the answer.
    await waitFor(() => hub.webhooks.queues[0]!.cursor === b.id, 5000, 'the second delivery to complete');
    const metrics = await hub.metrics.registry.metrics();
    assert.match(metrics, /reconsync_webhook_deliveries_total\{format="json",outcome="retry"\} 2/);
    assert.match(metrics, /reconsync_webhook_deliveries_total\{format="json",outcome="ok"\} 2/);
  });

  it('a dead endpoint does not delay another one, nor the hub', async (t) => {
    const tmp = await tempDir();
    const dead = await WebhookReceiver.start();
    dead.answer = 'hang';
    const live = await WebhookReceiver.start();
    const hub = await hubWith(tmp.dir, [
      { url: dead.url, format: 'json', secret: SECRET, timeoutMs: 60_000 },
      { url: live.url, format: 'slack' },
    ]);
    t.after(async () => { await hub.close(); await dead.close(); await live.close(); await tmp.cleanup(); });
    emit(hub, 'crash', 's1', 'one');
    await dead.until((r) => r.length === 1);
    const started = Date.now();
    emit(hub, 'crash', 's1', 'two');
    await live.until((r) => r.length === 2, 3000);
    assert.ok(Date.now() - started < 3000);
    assert.deepEqual(live.received.map((r) => JSON.parse(r.body).text), ['🔴 s1: crash — one', '🔴 s1: crash — two']);
    // The hub still answers while the dead endpoint holds its delivery.
    const health = await fetch(`${hub.url}/healthz`, { signal: AbortSignal.timeout(2000) });
    assert.equal(health.status, 200);
    assert.equal(dead.received.length, 1, 'one delivery at a time per endpoint');
  });

  it('what was not delivered before a hub restart is delivered after it (the queue is in the store)', async (t) => {
    const tmp = await tempDir();
    const rx = await WebhookReceiver.start();
    rx.answer = 500;
    const hooks = [{ url: rx.url, format: 'json', secret: SECRET }];
    const slow = { webhooks: { retryBaseMs: 60_000, retryMaxMs: 60_000, maxAttempts: 5 } };
    let hub = await hubWith(tmp.dir, hooks, slow);
    t.after(async () => { await hub.close(); await rx.close(); await tmp.cleanup(); });
    const e = emit(hub, 'crash');
    await rx.until((r) => r.length === 1);
    await hub.close();
    rx.answer = 204;
    hub = await hubWith(tmp.dir, hooks);
    await rx.until((r) => r.length === 2);
    assert.equal(rx.received[1]!.headers['x-reconsync-event-id'], String(e.id));
    // Delivered now (once the hub has the answer): a third start sends nothing again.
    await waitFor(() => hub.webhooks.queues[0]!.cursor === e.id, 5000, 'the delivery to complete');
    await hub.close();
    hub = await hubWith(tmp.dir, hooks);
    emit(hub, 'gave_up');
    await rx.until((r) => r.length === 3);
    assert.equal((JSON.parse(rx.received[2]!.body) as HubEvent).kind, 'gave_up');
  });

  it('gives an event up after maxAttempts and moves on', async (t) => {
    const tmp = await tempDir();
    const rx = await WebhookReceiver.start();
    rx.answer = (r) => (JSON.parse(r.body).content.includes('poison') ? 400 : 204);
    const hub = await hubWith(tmp.dir, [{ url: rx.url, format: 'discord' }]);
    t.after(async () => { await hub.close(); await rx.close(); await tmp.cleanup(); });
    emit(hub, 'crash', 's1', 'poison @everyone');
    emit(hub, 'crash', 's1', 'fine');
    await rx.until((r) => r.length === 6);
    const last = JSON.parse(rx.received[5]!.body);
    assert.match(last.content, /fine/);
    assert.deepEqual(last.allowed_mentions, { parse: [] });
  });

  it('config: format json needs a secret; an endpoint is listed once', () => {
    const base = { api: { token: 'x'.repeat(16) } };
    const noSecret = HubConfigSchema.safeParse({ ...base, alerts: { webhooks: [{ url: 'https://example.org/h', format: 'json' }] } });
    assert.equal(noSecret.success, false);
    assert.match(JSON.stringify(noSecret.error?.issues), /format json needs a secret/);
    const twice = HubConfigSchema.safeParse({ ...base, alerts: { webhooks: [{ url: 'https://example.org/h', format: 'slack' }, { url: 'https://example.org/h', format: 'slack' }] } });
    assert.equal(twice.success, false);
    const badKind = HubConfigSchema.safeParse({ ...base, alerts: { webhooks: [{ url: 'https://example.org/h', format: 'slack', events: ['explode'] }] } });
    assert.equal(badKind.success, false);
    assert.equal(HubConfigSchema.safeParse({ ...base, alerts: { webhooks: [{ url: 'ftp://example.org/h', format: 'slack' }] } }).success, false);
  });
});

describe('webhook formats', () => {
  it('slack: text from a game (a player named <!channel>) cannot mention or link; discord: no mentions parsed', () => {
    const e: HubEvent = { id: 7, at: '2026-01-01T00:00:00.000Z', kind: 'player_join', severity: 'info', agentId: 'a1', serverId: 's1', message: '<!channel> & <https://evil.example|click> joined', data: { player: '<!channel>' } };
    const slack = JSON.parse(webhookRequest({ format: 'slack' }, e, 'test').body) as { text: string };
    assert.doesNotMatch(slack.text, /[<>]/);
    assert.match(slack.text, /&lt;!channel&gt; &amp; &lt;https:\/\/evil\.example\|click&gt; joined/);
    const discord = JSON.parse(webhookRequest({ format: 'discord' }, e, 'test').body) as { allowed_mentions: { parse: string[] } };
    assert.deepEqual(discord.allowed_mentions.parse, []);
  });
});
