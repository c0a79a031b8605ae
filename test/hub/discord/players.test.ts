import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventListener } from '../../../hub/events/event-log.ts';
import type { HubEvent } from '../../../protocol/event-kinds.ts';
import type { OnlinePlayer } from '../../../hub/events/players.ts';
import { messageText } from '../../support/fake-discord/index.ts';
import { startHarness, users } from './harness.ts';

const EVENTS = '100000000000000303';

function feed() {
  const listeners = new Set<EventListener>();
  let id = 0;
  return {
    subscribe: (l: EventListener) => { listeners.add(l); return () => listeners.delete(l); },
    emit: (kind: 'player_join' | 'player_leave' | 'crash', message: string) => {
      const e: HubEvent = { id: ++id, at: new Date().toISOString(), kind, severity: 'info', agentId: 'agent-1', serverId: 'valheim-main', message, data: {} };
      for (const l of listeners) l(e);
    },
  };
}

test('/players lists who is on and for how long; a counts-only game says so', async (t) => {
  const online: Record<string, OnlinePlayer[]> = { 'valheim-main': [{ name: 'Odin', since: '', seconds: 5400 }, { name: 'Freya_x', since: '', seconds: 30 }], 'ark-1': [] };
  const h = await startHarness(t, { activity: { players: (id) => online[id] ?? null, subscribe: feed().subscribe } });
  h.service.addServer('valheim-main', { name: 'Valheim Main', players: { online: 2, max: 10, names: ['Odin', 'Freya_x'] } });
  h.service.addServer('ark-1', { name: 'Ark', game: 'ark', playerDetail: 'names', players: { online: 3, max: 70, names: [] } });
  h.service.addServer('valheim-2', { name: 'Valheim Two', playerDetail: 'counts', players: { online: 4, max: 10, names: [] } });
  const list = messageText(await h.fake.command({ name: 'players', options: { server: 'valheim-main' }, user: users.guest }).reply());
  assert.match(list, /Players on Valheim Main \(2\/10\)/);
  assert.match(list, /Odin — 1 h 30 min/);
  assert.match(list, /Freya\\_x — 30 s/);
  const counts = messageText(await h.fake.command({ name: 'players', options: { server: 'ark-1' }, user: users.guest }).reply());
  assert.match(counts, /3 online; `ark` did not report their names/, 'a names game whose names were blank');
  const countsOnly = messageText(await h.fake.command({ name: 'players', options: { server: 'valheim-2' }, user: users.guest }).reply());
  assert.match(countsOnly, /4 online; `valheim` reports player counts only, not names/);
  const unknown = await h.fake.command({ name: 'players', options: { server: 'nope' }, user: users.guest }).reply();
  assert.match(unknown.content, /UNKNOWN_SERVER/);
});

test('player joins and leaves reach discord.eventsChannelId batched into one message; other events do not', async (t) => {
  const f = feed();
  const h = await startHarness(t, { config: { eventsChannelId: EVENTS }, options: { playerFeedBatchMs: 200 }, activity: { players: () => null, subscribe: f.subscribe } });
  f.emit('player_join', 'Odin joined');
  f.emit('crash', 'exit code 1');
  f.emit('player_join', 'Freya joined');
  f.emit('player_leave', 'Odin left after 5 min');
  const msg = await h.fake.waitFor(() => h.fake.messagesIn(EVENTS)[0]);
  assert.equal(msg.content, '➕ `valheim-main` Odin joined\n➕ `valheim-main` Freya joined\n➖ `valheim-main` Odin left after 5 min');
  assert.equal(h.fake.messagesIn(EVENTS).length, 1, 'one message for the window');
  assert.deepEqual(h.fake.violations, []);
});
