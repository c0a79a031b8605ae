import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryMessageStore } from '../../../hub/discord/index.ts';
import { FakeDiscord, messageText, type FakeMessage } from '../../support/fake-discord/index.ts';
import { MemoryHubService } from '../../support/memory-hub-service.ts';
import { ROLE, startHarness, waitFor, users, type Harness } from './harness.ts';

const BOARD = '100000000000000302';
const ALERTS = '100000000000000303';
/** A channel id that exists nowhere the bot can see. */
const NOWHERE = '100000000000000999';
const EDITS = /^\/channels\/\d+\/messages\/\d+$/;

const sid = (i: number) => `srv-${String(i).padStart(2, '0')}`;

/** Which servers each visible board page shows, pages in channel order (oldest first). */
function pageServers(h: Harness, channel = BOARD): string[][] {
  return h.fake.messagesIn(channel).map((m) => m.embeds.map((e) => (/srv-\d\d/.exec(JSON.stringify(e)) ?? ['?'])[0]));
}

function firstOfEachPage(h: Harness, channel = BOARD): string[] {
  return pageServers(h, channel).map((p) => p[0] ?? '?');
}

function serviceWith(n: number): MemoryHubService {
  const svc = new MemoryHubService();
  for (let i = 0; i < n; i++) svc.addServer(sid(i));
  return svc;
}

test('/statusboard for a channel the bot may not use answers with the real refusal and what to fix, and keeps nothing', async (t) => {
  const h = await startHarness(t, { service: serviceWith(1) });
  const cannotWrite = ALERTS; // any channel but BOARD
  h.fake.setChannelFault(cannotWrite, 'missing_permissions');

  const denied = await h.fake.command({ name: 'statusboard', options: { channel: cannotWrite }, user: users.admin }).reply();
  assert.equal(denied.flags & 64, 64);
  assert.match(denied.content, /403 Missing Permissions \(50013\)/);
  assert.match(denied.content, /Send Messages, Embed Links/);
  assert.doesNotMatch(denied.content, /posted/);

  const unseen = await h.fake.command({ name: 'statusboard', options: { channel: NOWHERE }, user: users.admin }).reply();
  assert.match(unseen.content, /404 Unknown Channel \(10003\)/);

  assert.equal(h.store.get('meta', 'boards') ?? '', '', 'a refused channel is not stored');
  assert.deepEqual(h.service.auditLog.filter((a) => a.action === 'statusboard').map((a) => a.outcome), ['error', 'error']);
  const callsBefore = h.fake.channelCalls(cannotWrite).length + h.fake.channelCalls(NOWHERE).length;
  h.service.updateServer(sid(0), { state: 'crashed' });
  // A working board in another channel shows the change: the refused ones were not tried again.
  const ok = await h.fake.command({ name: 'statusboard', options: { channel: BOARD }, user: users.admin }).reply();
  assert.match(ok.content, /Status board posted in <#\d+> \(1 message/);
  assert.equal(h.fake.channelCalls(cannotWrite).length + h.fake.channelCalls(NOWHERE).length, callsBefore);
  assert.deepEqual(h.fake.violations, []);
});

test('a board whose channel turns 403 stops at the first refusal, alerts once with the fix, and /statusboard remove:true drops it', async (t) => {
  const fake = await FakeDiscord.start({ roles: Object.values(ROLE) });
  t.after(() => fake.close());
  const store = new MemoryMessageStore();
  const svc = serviceWith(2);
  const h = await startHarness(t, { fake, store, service: svc, config: { statusChannelId: fake.channels[0]!, alertChannelId: ALERTS, boardEditIntervalMs: 50 } });
  const posted = await h.fake.command({ name: 'statusboard', options: { channel: BOARD }, user: users.admin }).reply();
  assert.match(posted.content, /Status board posted/);
  await h.fake.waitFor(() => h.fake.messagesIn(BOARD).length === 1);

  h.fake.setChannelFault(BOARD, 'missing_permissions');
  const before = h.fake.channelCalls(BOARD).length;
  for (let n = 0; n < 5; n++) {
    h.service.updateServer(sid(0), { state: n % 2 ? 'running' : 'crashed', players: { online: n, max: 10, names: [] } });
    // The healthy board shows each change, so the refused one had every chance to try.
    await h.fake.waitFor(() => h.fake.messagesIn(fake.channels[0]!).some((m) => messageText(m).includes(`${n}/10`)));
  }
  const alert = await h.fake.waitFor(() => h.fake.messagesIn(ALERTS).find((m) => /status board/.test(m.content)));
  assert.match(alert.content, /<#100000000000000302> stopped: Discord answered 403 Missing Permissions \(50013\)/);
  assert.match(alert.content, /remove:True/);
  const tried = h.fake.channelCalls(BOARD).slice(before);
  assert.equal(tried.length, 1, `one refused request, then silence: ${tried.map((c) => `${c.method} ${c.status}`).join(', ')}`);
  assert.equal(h.fake.messagesIn(ALERTS).filter((m) => /status board/.test(m.content)).length, 1, 'alerted once');
  assert.equal(h.logs.lines.filter((l) => /status board update failed/.test(String(l.msg))).length, 0);

  // A restart does not retry a refused channel either.
  await h.bot.close();
  const again = await startHarness(t, { fake, store, service: svc, config: { statusChannelId: fake.channels[0]!, alertChannelId: ALERTS, boardEditIntervalMs: 50 } });
  again.service.updateServer(sid(1), { state: 'stopped' });
  await again.fake.waitFor(() => again.fake.messagesIn(fake.channels[0]!).some((m) => /⚫ stopped/.test(messageText(m))));
  assert.equal(fake.channelCalls(BOARD).length, before + 1);

  const notAdmin = await fake.command({ name: 'statusboard', options: { channel: BOARD, remove: true }, user: users.operator }).reply();
  assert.match(notAdmin.content, /needs the admin role/);
  const removed = await fake.command({ name: 'statusboard', options: { channel: BOARD, remove: true }, user: users.admin }).reply();
  assert.match(removed.content, /removed/);
  assert.equal(store.get('meta', 'boards'), '');
  assert.equal(store.get(BOARD, 'board:0'), null);
  assert.equal(store.get(BOARD, 'board:refused'), null);
  assert.ok(svc.auditLog.some((a) => a.action === 'statusboard.remove' && a.outcome === 'ok' && a.actor.id === users.admin.id));
  assert.equal(fake.channelCalls(BOARD).length, before + 1, 'nothing is deleted in a channel that refuses the bot');
  assert.deepEqual(fake.violations, []);
});

test('after a 30046 the re-created page keeps its place: the pages after it are posted again, in server order', async (t) => {
  const h = await startHarness(t, { service: serviceWith(30), config: { statusChannelId: BOARD, boardEditIntervalMs: 50 } });
  await h.fake.waitFor(() => h.fake.messagesIn(BOARD).length === 3);
  assert.deepEqual(firstOfEachPage(h), ['srv-00', 'srv-10', 'srv-20']);

  h.fake.failEditsTooOld(1);
  h.service.updateServer(sid(11), { state: 'crashed' });
  await h.fake.waitFor(() => h.fake.messagesIn(BOARD).some((m) => /🔴/.test(messageText(m))));
  await waitFor(() => h.fake.messagesIn(BOARD).length === 3 && h.store.get(BOARD, 'board:2') !== null, 5000, 'three pages again');
  assert.deepEqual(pageServers(h).map((p) => p.length), [10, 10, 10]);
  assert.deepEqual(firstOfEachPage(h), ['srv-00', 'srv-10', 'srv-20'], 'pages in server order');
  const stored = [0, 1, 2].map((i) => h.store.get(BOARD, `board:${i}`));
  assert.deepEqual(stored, h.fake.messagesIn(BOARD).map((m) => m.id));
  assert.deepEqual(h.fake.violations, []);
});

test('a page deleted by hand is repaired on the next board pass, in its place, even when none of its servers changed', async (t) => {
  const h = await startHarness(t, {
    service: serviceWith(30), config: { statusChannelId: BOARD, boardEditIntervalMs: 50 }, options: { boardCheckIntervalMs: 0 },
  });
  await h.fake.waitFor(() => h.fake.messagesIn(BOARD).length === 3);
  const [, middle] = h.fake.messagesIn(BOARD) as [FakeMessage, FakeMessage, FakeMessage];
  h.fake.deleteMessage(middle.id);
  h.service.updateServer(sid(0), { state: 'stopped' }); // a change on page 1 only
  await h.fake.waitFor(() => h.fake.messagesIn(BOARD).length === 3 && firstOfEachPage(h).join() === 'srv-00,srv-10,srv-20');
  await waitFor(() => h.store.get(BOARD, 'board:1') !== middle.id && h.store.get(BOARD, 'board:2') !== null, 5000, 'the new ids stored');
  assert.deepEqual([0, 1, 2].map((i) => h.store.get(BOARD, `board:${i}`)), h.fake.messagesIn(BOARD).map((m) => m.id));
  assert.deepEqual(h.fake.violations, []);
});

test('without any change, the periodic check re-posts a page deleted by hand', async (t) => {
  const h = await startHarness(t, {
    service: serviceWith(12), config: { statusChannelId: BOARD, boardEditIntervalMs: 50 }, options: { boardCheckIntervalMs: 200 },
  });
  await h.fake.waitFor(() => h.fake.messagesIn(BOARD).length === 2);
  h.fake.deleteMessage(h.fake.messagesIn(BOARD)[1]!.id);
  await h.fake.waitFor(() => (h.fake.messagesIn(BOARD).length === 2 ? true : null), { timeoutMs: 5000 });
  assert.deepEqual(firstOfEachPage(h), ['srv-00', 'srv-10']);
  assert.equal(h.fake.callsMatching('PATCH', EDITS).length, 0, 'nothing changed, so nothing was edited');
  assert.deepEqual(h.fake.violations, []);
});

test('alert and audit channels that refuse the bot are asked once, then left alone, with one log line naming the fix', async (t) => {
  const h = await startHarness(t, { service: serviceWith(8), config: { alertChannelId: ALERTS, auditChannelId: BOARD } });
  h.fake.setChannelFault(ALERTS, 'missing_access');
  h.fake.setChannelFault(BOARD, 'missing_permissions');
  h.service.alert(sid(0), 'crashed', 'boom');
  await h.fake.command({ name: 'server', subcommand: 'stop', options: { server: sid(0) }, user: users.guest }).reply();
  await h.logs.waitFor((l) => /refuses channel 100000000000000303 \(Missing Access\).*View Channel/.test(String(l.msg)));
  await h.logs.waitFor((l) => /refuses channel 100000000000000302 \(Missing Permissions\).*Send Messages/.test(String(l.msg)));
  const asked = h.fake.channelCalls(ALERTS).length + h.fake.channelCalls(BOARD).length;
  assert.equal(asked, 2);
  for (let i = 1; i < 8; i++) {
    h.service.alert(sid(i), 'crashed', `boom ${i}`);
    await h.fake.command({ name: 'server', subcommand: 'stop', options: { server: sid(i) }, user: users.guest }).reply();
  }
  assert.equal(h.fake.channelCalls(ALERTS).length + h.fake.channelCalls(BOARD).length, asked, 'no request to a refused channel');
  assert.equal(h.logs.lines.filter((l) => /refuses channel|could not post/.test(String(l.msg))).length, 2, 'one line per channel');
  assert.equal(h.service.auditLog.filter((a) => a.outcome === 'denied').length, 8, 'the audit log itself is complete');
  assert.deepEqual(h.fake.violations, []);
});
