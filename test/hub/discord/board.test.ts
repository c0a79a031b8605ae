import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryMessageStore } from '../../../hub/discord/index.ts';
import { FakeDiscord, messageText, type FakeMessage } from '../../support/fake-discord/index.ts';
import { embedChars } from '../../support/fake-discord/limits.ts';
import { MemoryHubService } from '../../support/memory-hub-service.ts';
import { ROLE, startHarness, waitFor, users, type Harness } from './harness.ts';

const BOARD = '100000000000000302';
const EDITS = /^\/channels\/\d+\/messages\/\d+$/;

function boardMessages(h: Harness, channel = BOARD): FakeMessage[] {
  return h.fake.messagesIn(channel);
}

/** The board's first message once its text matches. */
function boardMatching(h: Harness, re: RegExp, channel = BOARD, timeoutMs = 5000): Promise<FakeMessage> {
  return h.fake.waitFor(() => boardMessages(h, channel).find((m) => re.test(messageText(m))), { timeoutMs, what: `board matching ${re}` });
}

test('the board is posted once and edited in place when a server crashes and comes back', async (t) => {
  const svc = new MemoryHubService();
  svc.addServer('valheim-main', { name: 'Valheim Main' });
  const h = await startHarness(t, { service: svc, config: { statusChannelId: BOARD, boardEditIntervalMs: 100 } });
  const first = await boardMatching(h, /🟢 running/);
  const posts = () => h.fake.callsMatching('POST', /^\/channels\/\d+\/messages$/).length;
  assert.equal(posts(), 1);

  h.service.updateServer('valheim-main', { state: 'crashed' });
  const crashed = await boardMatching(h, /🔴 crashed/);
  assert.equal(crashed.id, first.id);
  h.service.updateServer('valheim-main', { state: 'running' });
  const back = await boardMatching(h, /🟢 running/);
  assert.equal(back.id, first.id);
  assert.equal(posts(), 1, 'edited, never re-posted');
  assert.equal(boardMessages(h).length, 1);

  // A status heartbeat that changes nothing visible does not edit.
  const editsBefore = h.fake.callsMatching('PATCH', EDITS).length;
  h.service.updateServer('valheim-main', {});
  h.service.updateServer('valheim-main', { players: { online: 1, max: 10, names: ['a'] } });
  await boardMatching(h, /1\/10/);
  assert.equal(h.fake.callsMatching('PATCH', EDITS).length, editsBefore + 1);

  h.service.setAgentConnected('agent-1', false);
  const offline = await boardMatching(h, /📴 agent offline \(last: running\)/);
  assert.equal(offline.id, first.id);
  assert.deepEqual(h.fake.violations, []);
});

test('edits are coalesced: a burst becomes one edit, and edits are at least boardEditIntervalMs apart', async (t) => {
  const svc = new MemoryHubService();
  svc.addServer('s1');
  const h = await startHarness(t, { service: svc, config: { statusChannelId: BOARD, boardEditIntervalMs: 400 } });
  await boardMatching(h, /0\/10/);
  const start = h.fake.calls.length;
  for (let n = 1; n <= 5; n++) h.service.updateServer('s1', { players: { online: n, max: 10, names: [] } });
  await boardMatching(h, /5\/10/);
  h.service.updateServer('s1', { players: { online: 6, max: 10, names: [] } });
  await boardMatching(h, /6\/10/);
  const edits = h.fake.calls.slice(start).filter((c) => c.method === 'PATCH' && EDITS.test(c.path));
  assert.equal(edits.length, 2, 'five changes in a burst → one edit, then one for the later change');
  assert.ok(edits[1]!.at - edits[0]!.at >= 400, `edits ${edits[1]!.at - edits[0]!.at} ms apart`);
  assert.deepEqual(h.fake.violations, []);
});

test('an injected 429 is honoured and counted; 30046 and a deleted message get a fresh message', async (t) => {
  const svc = new MemoryHubService();
  svc.addServer('s1');
  const h = await startHarness(t, { service: svc, config: { statusChannelId: BOARD, boardEditIntervalMs: 50 } });
  const first = await boardMatching(h, /🟢 running/);

  h.fake.rateLimitEdits(1, 0.2);
  h.service.updateServer('s1', { state: 'stopped' });
  const stopped = await boardMatching(h, /⚫ stopped/);
  assert.equal(stopped.id, first.id);
  assert.deepEqual(h.fake.callsMatching('PATCH', EDITS).map((c) => c.status), [429, 200]);
  const [limited, retried] = h.fake.callsMatching('PATCH', EDITS);
  assert.ok(retried!.at - limited!.at >= 200, 'Retry-After was waited for');
  assert.equal(h.bot.stats().rateLimited, 1);

  h.fake.failEditsTooOld(1);
  h.service.updateServer('s1', { state: 'starting' });
  const fresh = await boardMatching(h, /🟡 starting/);
  assert.notEqual(fresh.id, first.id);
  assert.equal(h.fake.message(first.id)?.deleted, true, 'the stale message is removed');
  await waitFor(() => h.store.get(BOARD, 'board:0') === fresh.id, 5000, 'the fresh id in the store');

  h.fake.deleteMessage(fresh.id);
  h.service.updateServer('s1', { state: 'running' });
  const third = await boardMatching(h, /🟢 running/);
  assert.notEqual(third.id, fresh.id);
  await waitFor(() => h.store.get(BOARD, 'board:0') === third.id, 5000, 'the third id in the store');
  assert.equal(boardMessages(h).length, 1);
  assert.deepEqual(h.fake.violations, []);
});

test('after a hub restart the stored board message is edited, not re-posted', async (t) => {
  const fake = await FakeDiscord.start({ roles: Object.values(ROLE) });
  t.after(() => fake.close());
  const store = new MemoryMessageStore();
  const svc = new MemoryHubService();
  svc.addServer('s1');
  const one = await startHarness(t, { fake, store, service: svc, config: { statusChannelId: BOARD } });
  const posted = await boardMatching(one, /🟢 running/);
  await one.bot.close();

  svc.updateServer('s1', { state: 'crashed' });
  const two = await startHarness(t, { fake, store, service: svc, config: { statusChannelId: BOARD } });
  const edited = await boardMatching(two, /🔴 crashed/);
  assert.equal(edited.id, posted.id);
  assert.equal(fake.callsMatching('POST', /^\/channels\/\d+\/messages$/).length, 1);
  assert.deepEqual(fake.violations, []);
});

test('many servers are split over messages within 10 embeds and 6000 characters; surplus pages are removed', async (t) => {
  const svc = new MemoryHubService();
  const long = 'M'.repeat(200);
  for (let i = 0; i < 45; i++) svc.addServer(`srv-${String(i).padStart(2, '0')}`, { name: `Server ${i} ${long}`, map: long, version: long });
  const h = await startHarness(t, { service: svc, config: { statusChannelId: BOARD, boardEditIntervalMs: 50 } });
  const pages = await h.fake.waitFor(() => {
    const ms = boardMessages(h);
    return ms.reduce((n, m) => n + m.embeds.length, 0) === 45 ? ms : null;
  });
  assert.ok(pages.length >= 6, 'long names: the 6000-character budget splits before 10 embeds');
  for (const p of pages) {
    assert.ok(p.embeds.length <= 10);
    assert.ok(p.embeds.reduce((n, e) => n + embedChars(e), 0) <= 6000);
  }
  for (let i = 5; i < 45; i++) h.service.servers.delete(`srv-${String(i).padStart(2, '0')}`);
  h.service.updateServer('srv-00', { state: 'stopped' });
  await h.fake.waitFor(() => boardMessages(h).length === 1);
  assert.equal(boardMessages(h)[0]!.embeds.length, 5);
  await waitFor(() => h.store.get(BOARD, 'board:1') === null, 5000, 'surplus pages forgotten');
  assert.deepEqual(h.fake.violations, []);
});

test('/statusboard posts a board in the chosen channel and remembers it across restarts', async (t) => {
  const fake = await FakeDiscord.start({ roles: Object.values(ROLE) });
  t.after(() => fake.close());
  const store = new MemoryMessageStore();
  const svc = new MemoryHubService();
  svc.addServer('s1');
  const channel = fake.channels[2]!;
  const one = await startHarness(t, { fake, store, service: svc });
  const denied = await fake.command({ name: 'statusboard', options: { channel }, user: users.operator }).reply();
  assert.match(denied.content, /needs the admin role/);
  const ok = await fake.command({ name: 'statusboard', options: { channel }, user: users.admin }).reply();
  assert.equal(ok.flags & 64, 64);
  const posted = await boardMatching(one, /🟢 running/, channel);
  assert.ok(svc.auditLog.some((a) => a.action === 'statusboard' && a.outcome === 'ok'));
  await one.bot.close();

  svc.updateServer('s1', { state: 'stopped' });
  const two = await startHarness(t, { fake, store, service: svc });
  const edited = await boardMatching(two, /⚫ stopped/, channel);
  assert.equal(edited.id, posted.id);
  assert.deepEqual(fake.violations, []);
});
