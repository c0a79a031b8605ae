import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messageText } from '../../support/fake-discord/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { startHarness, waitFor, users } from './harness.ts';

const threadPosts = (h: { fake: { calls: readonly { method: string; path: string; body: unknown }[] } }, threadId: string) =>
  h.fake.calls.filter((c) => c.method === 'POST' && c.path === `/channels/${threadId}/messages`);

test('/console opens a thread from its reply and posts only new log lines there, batched; minutes:0 ends and archives it; admin only', async (t) => {
  const h = await startHarness(t, { options: { consoleEditIntervalMs: 50 } });
  h.service.addServer('valheim-main', { name: 'Valheim Main' });
  h.service.logLines = ['Server started', 'Player Odin joined'];
  let reads = 0;
  const read = h.service.serverLog.bind(h.service);
  h.service.serverLog = (id, n) => { reads += 1; return read(id, n); };

  const denied = await h.fake.command({ name: 'console', options: { server: 'valheim-main' }, user: users.operator }).reply();
  assert.match(denied.content, /needs the admin role/);

  const cmd = h.fake.command({ name: 'console', options: { server: 'valheim-main', minutes: 2 }, user: users.admin });
  const reply = await cmd.replyMatching(/following in the thread below for 2 min/);
  const thread = await h.fake.waitFor(() => h.fake.threads[0], { what: 'a thread' });
  assert.equal(thread.messageId, reply.id, 'the thread starts from the reply');
  assert.equal(thread.parentId, reply.channelId);
  assert.equal(thread.name, 'console valheim-main');
  const inThread = () => h.fake.messagesIn(thread.id).map((m) => m.content).join('\n');
  await h.fake.waitFor(() => inThread().includes('Player Odin joined'), { what: 'the first lines in the thread' });

  h.service.logLines.push('Saved world ```oops```', 'chat: @everyone look');
  await h.fake.waitFor(() => inThread().includes('Saved world'), { what: 'a new line in the thread' });
  assert.equal(inThread().split('Player Odin joined').length, 2, 'a line already posted is not posted again');
  assert.ok(!inThread().includes('```oops```'), 'log text cannot close the code block');

  // A burst: more than one message's worth, still in code blocks under 2000 characters, at most 2 posts per read.
  const before = threadPosts(h, thread.id).length;
  const readsBefore = reads;
  for (let n = 0; n < 60; n++) h.service.logLines.push(`line ${n} ${'x'.repeat(80)}`);
  await h.fake.waitFor(() => inThread().includes('line 59 '), { what: 'the burst in the thread' });
  const burst = threadPosts(h, thread.id).slice(before);
  assert.ok(burst.length >= 3, `the burst took several messages (${burst.length})`);
  assert.ok(burst.length <= 2 * (reads - readsBefore), `at most 2 posts per read (${burst.length} posts, ${reads - readsBefore} reads)`);
  for (const c of threadPosts(h, thread.id)) {
    const body = c.body as { content: string; allowed_mentions: unknown };
    assert.ok(body.content.length <= 2000 && body.content.includes('```\n'), 'each message is one code block within the limit');
    assert.deepEqual(body.allowed_mentions, { parse: [] }, 'game output pings nobody');
  }

  const stop = await h.fake.command({ name: 'console', options: { server: 'valheim-main', minutes: 0 }, user: users.admin }).reply();
  assert.match(stop.content, /Stopped following the console of `valheim-main`/);
  await h.fake.waitFor(() => h.fake.threads[0]!.archived, { what: 'the thread archived' });
  assert.match(h.fake.messagesIn(thread.id).at(-1)!.content, /Console follow of `valheim-main` ended/);
  await cmd.replyMatching(/console \(ended\)/);
  assert.ok(h.service.auditLog.some((a) => a.action === 'server.console' && a.detail === '2 min'));
  assert.deepEqual(h.fake.violations, []);
});

test('/console ends after the given minutes and archives its thread', async (t) => {
  const clock = new FakeClock(Date.parse('2026-01-01T12:00:00Z'));
  const h = await startHarness(t, { clock, options: { consoleEditIntervalMs: 3000 } });
  h.service.addServer('valheim-main', { name: 'Valheim Main' });
  h.service.logLines = ['Server started'];
  const cmd = h.fake.command({ name: 'console', options: { server: 'valheim-main', minutes: 1 }, user: users.admin });
  const thread = await h.fake.waitFor(() => h.fake.threads[0], { what: 'a thread' });
  await h.fake.waitFor(() => h.fake.messagesIn(thread.id).length > 0, { what: 'the first lines' });
  const t0 = clock.now();
  // The follow polls every 3 s of the bot's clock: step it poll by poll (each pause is a sleeper due 3 s on).
  for (let k = 1; k <= 20; k++) {
    await waitFor(() => clock.dueTimes().includes(t0 + 3000 * k), 5000, `the follow's pause before poll ${k}`);
    assert.equal(h.fake.threads[0]!.archived, false, `still following at ${3 * (k - 1)} s`);
    await clock.advance(3000);
  }
  await h.fake.waitFor(() => h.fake.threads[0]!.archived, { what: 'the thread archived after 1 minute' });
  await cmd.replyMatching(/console \(ended\)/);
  assert.deepEqual(h.fake.violations, []);
});

test('/console without permission to create threads (403) follows in its reply and says so', async (t) => {
  const h = await startHarness(t, { options: { consoleEditIntervalMs: 50 } });
  h.service.addServer('valheim-main', { name: 'Valheim Main' });
  h.service.logLines = ['Server started', 'Player Odin joined'];
  h.fake.denyThreads();
  const cmd = h.fake.command({ name: 'console', options: { server: 'valheim-main', minutes: 2 }, user: users.admin });
  const first = await cmd.replyMatching(/Player Odin joined/);
  assert.match(messageText(first), /`valheim-main` console, following \(no permission to create a thread here\)/);
  h.service.logLines.push('Saved world');
  await cmd.replyMatching(/Saved world/);
  assert.deepEqual(h.fake.threads, []);
  await h.fake.command({ name: 'console', options: { server: 'valheim-main', minutes: 0 }, user: users.admin }).reply();
  await cmd.replyMatching(/console \(ended\)/);
  await h.logs.waitFor((l) => String(l.msg).includes('may not create threads here'));
  assert.deepEqual(h.fake.violations, []);
});
