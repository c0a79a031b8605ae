import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REST } from 'discord.js';
import pino from 'pino';
import { ChannelRefusedError, NotConnectedError } from '../../../hub/discord/errors.ts';
import { ChannelPoster } from '../../../hub/discord/poster.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { FakeDiscord } from '../../support/fake-discord/index.ts';
import { LogSink } from './harness.ts';

/** The poster over discord.js's real REST client against the fake Discord; time is a FakeClock. */
async function setup(t: { after: (fn: () => Promise<void> | void) => void }, token: string) {
  const fake = await FakeDiscord.start();
  t.after(() => fake.close());
  const rest = new REST({ api: fake.apiBaseUrl, retries: 0 }).setToken(token);
  const clock = new FakeClock();
  const logs = new LogSink();
  const poster = new ChannelPoster(() => rest, null, pino({ level: 'debug' }, logs.stream), clock);
  return { fake, rest, clock, logs, poster, channel: fake.channels[0]! };
}

test('a 401 pauses every request (no retries against a dead token) until a fresh login or the pause ends', async (t) => {
  const { fake, rest, clock, logs, poster, channel } = await setup(t, 'revoked-token');
  fake.setValidToken('the-new-token');
  await assert.rejects(poster.send(channel, { content: 'a' }), NotConnectedError);
  assert.equal(fake.callsMatching('POST', /messages$/).length, 1);
  for (let n = 0; n < 5; n++) await assert.rejects(poster.send(channel, { content: 'b' }), NotConnectedError);
  await assert.rejects(poster.edit(channel, '100000000000009999', { content: 'c' }), NotConnectedError);
  assert.equal(fake.calls.filter((c) => c.path.startsWith('/channels/')).length, 1, 'nothing more was sent');
  assert.equal(logs.lines.filter((l) => /401/.test(String(l.msg))).length, 1, 'logged once');

  // A fresh login brings a working token (discord.js drops the old one on a 401).
  rest.setToken('the-new-token');
  poster.loggedIn();
  assert.ok(await poster.send(channel, { content: 'after login' }));
  fake.setValidToken('another-token');
  await assert.rejects(poster.send(channel, { content: 'd' }), NotConnectedError);
  fake.setValidToken('the-new-token');
  rest.setToken('the-new-token');
  await assert.rejects(poster.send(channel, { content: 'e' }), NotConnectedError, 'still paused');
  await clock.advance(60_000);
  assert.ok(await poster.send(channel, { content: 'after the pause' }), 'the pause ends by itself');
});

test('a channel that answers 403/404 is asked once; allow() lets it be tried again', async (t) => {
  const { fake, logs, poster, channel } = await setup(t, 'fake-bot-token');
  fake.setChannelFault(channel, 'missing_permissions');
  await assert.rejects(poster.send(channel, { content: 'a' }), (err: unknown) => (err as { code?: number }).code === 50013);
  for (let n = 0; n < 5; n++) await assert.rejects(poster.send(channel, { content: 'b' }), ChannelRefusedError);
  assert.equal(fake.channelCalls(channel).length, 1);
  assert.equal(logs.lines.filter((l) => /refuses channel/.test(String(l.msg))).length, 1);

  fake.setChannelFault(channel, null);
  poster.allow(channel);
  const id = await poster.send(channel, { content: 'fixed' });
  fake.deleteMessage(id);
  assert.equal(await poster.edit(channel, id, { content: 'x' }), 'gone', 'a deleted message is not a refused channel');
  assert.equal(await poster.exists(channel, id), false);
  assert.ok(await poster.send(channel, { content: 'still allowed' }));
});
