// The agent's backup-overdue check runs on its injected clock: moving a fake clock past the check interval
// reaches the hub as a backup_overdue event, with no real waiting for the interval.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { HubEvent } from '../../protocol/event-kinds.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { api, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';

const CHECK_EVERY_MS = 60 * 60_000; // an hour of fake time: a real interval that long would never fire in this test

test('the overdue check runs on the injected clock and reports a server with no verified backup', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  let stack: Stack | undefined;
  try {
    const ports = await simPorts();
    const clock = new FakeClock(Date.now());
    // Watched only (no start:), nothing listening: the agent has nothing to do but the check.
    stack = await startStack(dir, [{
      id: 'ark', game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      saveDir: path.join(dir, 'ark-world'), backup: { destinations: ['local'], maxAgeHours: 6 },
    }], { agent: { clock, overdueCheckMs: CHECK_EVERY_MS } });
    const s = stack;
    await waitFor(() => s.hub.service.listAgents().find((a) => a.id === 'e2e-agent')?.connected, 15_000, 'agent connected');
    const overdue = async () => (await api<{ events: HubEvent[] }>(s.hub, 'GET', '/api/v1/events?server=ark&kind=backup_overdue')).body.events;
    assert.deepEqual(await overdue(), []);

    await clock.advance(CHECK_EVERY_MS);
    await waitFor(async () => (await overdue()).length === 1, 15_000, 'backup_overdue at the hub');
    assert.match((await overdue())[0]!.message, /ark has no verified backup at all \(limit 6 h\)/);
  } finally {
    await stack?.close();
    await cleanup();
  }
});
