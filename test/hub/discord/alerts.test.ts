import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock, type Clock, type ClockTimer } from '../../../protocol/index.ts';
import type { HubEvent } from '../../../protocol/event-kinds.ts';
import { messageText } from '../../support/fake-discord/index.ts';
import { MemoryHubService } from '../../support/memory-hub-service.ts';
import { startHarness, users } from './harness.ts';

const ALERTS = '100000000000000301';
const POSTS = /^\/channels\/100000000000000301\/messages$/;

/** Real timers, but "now" can be moved forward (to leave a cooldown window without waiting 15 minutes). */
class ShiftedClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
  setTimer(ms: number, fn: () => void): ClockTimer {
    return systemClock.setTimer(ms, fn);
  }
}

test('a flapping server yields one crashed and one recovered message that count repeats', async (t) => {
  const svc = new MemoryHubService();
  svc.addServer('s1', { name: 'Valheim Main' });
  const h = await startHarness(t, { service: svc, config: { alertChannelId: ALERTS, boardEditIntervalMs: 100 } });
  for (let n = 0; n < 10; n++) {
    h.service.alert('s1', 'crashed', 'exit code 1', new Date(Date.now() + n * 2).toISOString());
    h.service.alert('s1', 'recovered', '', new Date(Date.now() + n * 2 + 1).toISOString());
  }
  const msgs = await h.fake.waitFor(() => {
    const ms = h.fake.messagesIn(ALERTS);
    return ms.length === 2 && ms.every((m) => m.content.includes('×10')) ? ms : null;
  }, { what: 'two collapsed alert messages' });
  assert.match(msgs[0]!.content, /\*\*Valheim Main\*\* \(`s1`\) 🔴 crashed: exit code 1/);
  assert.match(msgs[1]!.content, /🟢 recovered/);
  assert.equal(h.fake.callsMatching('POST', POSTS).length, 2);
  assert.equal(h.bot.stats().alertsSuppressed, 18);
  assert.deepEqual(h.fake.violations, []);
});

test('an alert delivered twice is posted once; after the cooldown the same kind posts anew', async (t) => {
  const clock = new ShiftedClock();
  const svc = new MemoryHubService();
  svc.addServer('s1');
  const h = await startHarness(t, { service: svc, clock, config: { alertChannelId: ALERTS }, options: { alertCooldownMs: 60_000 } });

  const at = new Date().toISOString();
  for (let n = 0; n < 3; n++) svc.alert('s1', 'backup_failed', 'disk full', at);
  const first = await h.fake.waitFor(() => h.fake.messagesIn(ALERTS)[0]);
  assert.match(first.content, /❌ backup failed: disk full/);
  assert.doesNotMatch(first.content, /×/);

  clock.offset += 61_000;
  svc.alert('s1', 'backup_failed', 'disk full again');
  const second = await h.fake.waitFor(() => h.fake.messagesIn(ALERTS)[1]);
  assert.match(second.content, /disk full again/);
  assert.equal(h.fake.callsMatching('POST', POSTS).length, 2);
  assert.equal(h.fake.callsMatching('PATCH', /^\/channels\/100000000000000301\/messages\/\d+$/).length, 0);
  assert.deepEqual(h.fake.violations, []);
});

test('agents gone and back are the hub\'s agent_offline / agent_online events (after its grace), posted as they come', async (t) => {
  const svc = new MemoryHubService();
  svc.addServer('s1', { agentId: 'agent-1' });
  svc.addServer('s2', { agentId: 'agent-2' });
  const feed: { listener: ((e: HubEvent) => void) | null } = { listener: null };
  const activity = { players: () => null, subscribe: (l: (e: HubEvent) => void) => ((feed.listener = l), () => (feed.listener = null)) };
  const h = await startHarness(t, { service: svc, config: { alertChannelId: ALERTS }, activity });
  let id = 0;
  const event = (kind: 'agent_offline' | 'agent_online', agentId: string, message: string): HubEvent =>
    ({ id: ++id, at: new Date().toISOString(), kind, severity: kind === 'agent_offline' ? 'warning' : 'info', agentId, serverId: null, message, data: {} });
  // A blip inside the hub's grace makes no event: the service's connection changes alone post nothing.
  svc.setAgentConnected('agent-2', false);
  svc.setAgentConnected('agent-2', true);
  assert.ok(feed.listener, 'the bot follows the event feed');
  feed.listener(event('agent_offline', 'agent-1', 'agent agent-1 offline: no link for 60 s'));
  const offline = await h.fake.waitFor(() => h.fake.messagesIn(ALERTS).find((m) => /agent-1/.test(m.content)));
  assert.match(offline.content, /📴 agent offline \(.*no link for 60 s\)/);
  feed.listener(event('agent_online', 'agent-1', 'agent agent-1 back after 75 s offline'));
  const back = await h.fake.waitFor(() => h.fake.messagesIn(ALERTS).find((m) => /agent back online/.test(m.content)));
  assert.match(back.content, /back after 75 s offline/);
  assert.equal(h.fake.messagesIn(ALERTS).filter((m) => /agent-2/.test(m.content)).length, 0);
  assert.deepEqual(h.fake.violations, []);
});

test('nothing secret reaches Discord or the log', async (t) => {
  const svc = new MemoryHubService();
  svc.addServer('s1');
  const h = await startHarness(t, {
    service: svc, config: { alertChannelId: ALERTS, statusChannelId: '100000000000000302', auditChannelId: '100000000000000303' },
  });
  svc.alert('s1', 'crashed', 'boom');
  await h.fake.command({ name: 'rcon', options: { server: 's1', command: 'rcon_password hunter2' }, user: users.admin }).reply();
  await h.fake.waitFor(() => h.fake.messagesIn('100000000000000303')[0]);
  await h.fake.waitFor(() => h.fake.messagesIn(ALERTS)[0]);
  const everything = [...h.fake.state.messages.values()].filter((m) => (m.flags & 64) === 0).map(messageText).join('\n');
  assert.doesNotMatch(everything, new RegExp(h.config.token));
  assert.doesNotMatch(everything, /hunter2/, 'rcon arguments stay out of public messages');
  assert.doesNotMatch(h.logs.raw.join(''), new RegExp(h.config.token));
  for (const i of h.fake.state.interactions.values()) assert.ok(!h.logs.raw.join('').includes(i.token), 'interaction tokens never logged');
});

test('discord.alertRoles: a critical alert pings its role (allowed only that role), an info one pings nobody', async (t) => {
  const svc = new MemoryHubService();
  svc.addServer('s1', { name: 'Valheim Main' });
  const ROLE_ID = '900000000000000001';
  const h = await startHarness(t, { service: svc, config: { alertChannelId: ALERTS, alertRoles: { critical: ROLE_ID } } });
  h.service.alert('s1', 'crashed', 'exit code 1', new Date().toISOString());
  h.service.alert('s1', 'restarted', '', new Date().toISOString());
  const [crash, restart] = await h.fake.waitFor(() => {
    const ms = h.fake.messagesIn(ALERTS);
    return ms.length === 2 ? ms : null;
  }, { what: 'two alerts' });
  assert.match(crash!.content, new RegExp(`^<@&${ROLE_ID}> \\*\\*Valheim Main\\*\\*`));
  assert.doesNotMatch(restart!.content, /<@&/);
  const bodies = h.fake.callsMatching('POST', POSTS).map((c) => c.body as { content: string; allowed_mentions: { parse: string[]; roles?: string[] } });
  const crashBody = bodies.find((b) => b.content.includes('crashed'))!;
  assert.deepEqual(crashBody.allowed_mentions, { parse: [], roles: [ROLE_ID] });
  assert.deepEqual(bodies.find((b) => b.content.includes('restarted'))!.allowed_mentions, { parse: [], roles: [] });
});
