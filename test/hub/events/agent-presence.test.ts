// agent_offline is recorded only after the agent has been gone for alerts.offlineGraceMs, and agent_online only
// when it comes back after that: a hub restart or a blip sends no webhook, a real outage sends one of each.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../../hub/hub.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { API_TOKEN, FakeAgent, newToken, summary, tempDir, waitFor } from '../helpers.ts';
import { startHub } from '../../../hub/hub.ts';
import { EventEmitter } from 'node:events';
import { EventLog } from '../../../hub/events/event-log.ts';
import { silentLogger } from '../../../lib/logger.ts';

const GRACE_MS = 60_000;

describe('agent presence events', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let hub: Hub;
  let token: string;
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  const kinds = () => hub.store.hubEvents.list({ since: 0, limit: 100 }).map((e) => `${e.kind}:${e.agentId}`);
  const online = () => FakeAgent.online(hub, 'a1', token, [summary('s1')]).then((r) => r.agent);
  const gone = async (agent: FakeAgent) => {
    agent.close();
    await agent.waitClosed(5000);
    await waitFor(() => hub.link.registry.get('a1') === undefined, 5000, 'the hub saw a1 leave');
  };

  before(async () => {
    tmp = await tempDir();
    hub = await startHub({ config: { listen: { host: '127.0.0.1', port: 0 }, dataDir: tmp.dir, api: { token: API_TOKEN }, alerts: { offlineGraceMs: GRACE_MS } }, clock });
    token = newToken(hub, 'a1');
  });
  after(async () => {
    await hub.close();
    await tmp.cleanup();
  });

  it('a first connection and a reconnect within the grace record nothing', async () => {
    const first = await online();
    await gone(first);
    await clock.advance(GRACE_MS - 1000);
    const again = await online();
    await clock.advance(GRACE_MS * 2);
    assert.deepEqual(kinds(), []);
    await gone(again);
  });

  it('gone past the grace: one agent_offline; back: one agent_online that says for how long', async () => {
    await clock.advance(GRACE_MS);
    await waitFor(() => kinds().length === 1, 5000, 'agent_offline recorded');
    assert.deepEqual(kinds(), ['agent_offline:a1']);
    await clock.advance(60_000);
    const back = await online();
    await waitFor(() => kinds().length === 2, 5000, 'agent_online recorded');
    const events = hub.store.hubEvents.list({ since: 0, limit: 100 });
    assert.deepEqual(kinds(), ['agent_offline:a1', 'agent_online:a1']);
    assert.match(events[0]!.message, /no link for 60 s/);
    assert.match(events[1]!.message, /back after 120 s offline/);
    assert.equal(events[0]!.severity, 'warning');
    back.close();
  });

  it('a disconnect in the same tick as a reconnect still starts its own grace', async () => {
    const service = new EventEmitter();
    const log = new EventLog({ store: hub.store, service: service as never, logger: silentLogger, clock, offlineGraceMs: GRACE_MS });
    service.emit('agentOffline', 'b1');
    await clock.advance(1000);
    service.emit('agentOnline', 'b1');
    service.emit('agentOffline', 'b1'); // same tick: the first grace's entry must not swallow this one
    await clock.advance(GRACE_MS);
    await waitFor(() => kinds().includes('agent_offline:b1'), 5000, 'agent_offline for b1');
    assert.equal(kinds().filter((k) => k.endsWith(':b1')).length, 1);
    log.close();
  });
});
