import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Client, Events, GatewayIntentBits, MessageFlags, Routes } from 'discord.js';
import { FakeDiscord } from '../../support/fake-discord/index.ts';

// The fake is only worth something if it catches what Discord would refuse:
// these tests drive it with a bare discord.js Client that breaks limits on purpose.

async function connect(fake: FakeDiscord, token = fake.token): Promise<Client> {
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiBaseUrl } });
  const ready = once(client, Events.ClientReady, { signal: AbortSignal.timeout(10_000) });
  await client.login(token);
  await ready;
  return client;
}

test('a real Client logs in, registers commands and answers an interaction', async (t) => {
  const fake = await FakeDiscord.start();
  t.after(() => fake.close());
  const client = await connect(fake);
  t.after(() => client.destroy());
  assert.equal(client.guilds.cache.get(fake.guildId)?.channels.cache.size, fake.channels.length);
  await client.rest.put(Routes.applicationGuildCommands(fake.applicationId, fake.guildId), {
    body: [{ name: 'ping', description: 'Ping', options: [{ type: 3, name: 'what', description: 'What', required: false }] }],
  });
  client.on(Events.InteractionCreate, (i) => {
    if (i.isChatInputCommand()) void i.reply({ content: `pong ${i.options.getString('what')}`, flags: MessageFlags.Ephemeral });
  });
  const h = fake.command({ name: 'ping', options: { what: 'x' }, user: { id: '200000000000000001' } });
  const reply = await h.reply();
  assert.equal(reply.content, 'pong x');
  assert.equal(reply.flags & 64, 64);
  assert.deepEqual(fake.violations, []);
});

test('limits are recorded as violations: unanswered interaction, 11 embeds, 6000 chars, 26 choices, long custom_id', async (t) => {
  const fake = await FakeDiscord.start();
  t.after(() => fake.close());
  const client = await connect(fake);
  t.after(() => client.destroy());
  await client.rest.put(Routes.applicationGuildCommands(fake.applicationId, fake.guildId), {
    body: [{ name: 'x', description: 'X', options: [{ type: 3, name: 'q', description: 'Q', autocomplete: true }] }],
  });
  const channel = fake.channels[0]!;
  const post = (body: unknown) => client.rest.post(Routes.channelMessages(channel), { body }).catch((e: unknown) => e);
  await post({ embeds: Array.from({ length: 11 }, (_, i) => ({ title: `e${i}` })) });
  await post({ embeds: [{ description: 'a'.repeat(4000) }, { description: 'b'.repeat(2001) }] });
  await post({ content: 'x', components: [{ type: 1, components: [{ type: 2, style: 1, label: 'go', custom_id: 'c'.repeat(101) }] }] });
  client.on(Events.InteractionCreate, (i) => {
    if (i.isAutocomplete()) void i.respond(Array.from({ length: 26 }, (_, n) => ({ name: `n${n}`, value: `v${n}` }))).catch(() => undefined);
  });
  const ac = fake.autocomplete({ name: 'x', focused: 'q', options: { q: '' }, user: { id: '200000000000000001' } });
  const unanswered = fake.command({ name: 'x', options: { q: 'y' }, user: { id: '200000000000000001' } });
  await fake.waitFor(() => fake.violations.some((v) => v.includes(unanswered.id)), { timeoutMs: 5000 });
  assert.equal(ac.record.choices, null);
  await client.rest.put(Routes.applicationGuildCommands(fake.applicationId, fake.guildId), {
    body: [{ name: 'Bad Name', description: 'd'.repeat(101) }],
  }).catch(() => undefined);
  const joined = fake.violations.join('\n');
  assert.match(joined, /\/Bad Name: name must be/);
  assert.match(joined, /description 101 chars/);
  assert.match(joined, /11 embeds/);
  assert.match(joined, /embeds total 6001/);
  assert.match(joined, /custom_id 101/);
  assert.match(joined, /26 autocomplete choices/);
  assert.match(joined, /not answered within 3000 ms/);
});

test('bad token answers 401; injected 429 is retried by discord.js; 30046 surfaces as an API error', async (t) => {
  const fake = await FakeDiscord.start();
  t.after(() => fake.close());
  const bad = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: fake.apiBaseUrl } });
  await assert.rejects(bad.login('wrong-token'), /token/i);
  const client = await connect(fake);
  t.after(() => client.destroy());
  const channel = fake.channels[0]!;
  const msg = (await client.rest.post(Routes.channelMessages(channel), { body: { content: 'a' } })) as { id: string };
  let limited = 0;
  client.rest.on('response', (_req, res) => { if (res.status === 429) limited++; });
  fake.rateLimitEdits(1, 0.05);
  await client.rest.patch(Routes.channelMessage(channel, msg.id), { body: { content: 'b' } });
  assert.equal(limited, 1);
  assert.equal(fake.message(msg.id)?.content, 'b');
  fake.failEditsTooOld(1);
  await assert.rejects(client.rest.patch(Routes.channelMessage(channel, msg.id), { body: { content: 'c' } }), (e: { code?: number }) => e.code === 30046);
  assert.deepEqual(fake.violations, []);
});

test('threads: started from a channel message (type 11, the message id), posted into, archived; Discord refusals and bad names', async (t) => {
  const fake = await FakeDiscord.start();
  t.after(() => fake.close());
  const client = await connect(fake);
  t.after(() => client.destroy());
  const channel = fake.channels[0]!;
  const msg = (await client.rest.post(Routes.channelMessages(channel), { body: { content: 'console' } })) as { id: string };
  const thread = (await client.rest.post(Routes.threads(channel, msg.id), { body: { name: 'console s1', auto_archive_duration: 60 } })) as { id: string; type: number; parent_id: string };
  assert.deepEqual([thread.id, thread.type, thread.parent_id], [msg.id, 11, channel]);
  await assert.rejects(client.rest.post(Routes.threads(channel, msg.id), { body: { name: 'again' } }), /already been created/);
  await client.rest.post(Routes.channelMessages(thread.id), { body: { content: 'line 1' } });
  assert.deepEqual(fake.messagesIn(thread.id).map((m) => m.content), ['line 1']);
  await client.rest.patch(Routes.channel(thread.id), { body: { archived: true } });
  assert.equal(fake.threads[0]!.archived, true);
  await client.rest.post(Routes.channelMessages(thread.id), { body: { content: 'line 2' } });
  assert.equal(fake.threads[0]!.archived, false, 'a message unarchives the thread, as on Discord');
  assert.deepEqual(fake.violations, []);

  const other = (await client.rest.post(Routes.channelMessages(channel), { body: { content: 'x' } })) as { id: string };
  await assert.rejects(client.rest.post(Routes.threads(channel, other.id), { body: { name: 'n'.repeat(101) } }), /Invalid Form Body/);
  assert.match(fake.violations.join('\n'), /thread: thread name 101 chars/);
  fake.denyThreads();
  await assert.rejects(client.rest.post(Routes.threads(channel, other.id), { body: { name: 'ok' } }), /Missing Permissions/);
  fake.setChannelFault(channel, 'missing_permissions');
  await assert.rejects(client.rest.post(Routes.channelMessages(thread.id), { body: { content: 'x' } }), /Missing Permissions/, "a thread has its parent's permissions");
});
