import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buttonIds, messageText, type FakeUser } from '../../support/fake-discord/index.ts';
import { startHarness, users } from './harness.ts';

const AUDIT = '100000000000000303';
const LONG = 'x'.repeat(6000);

type Opt = { name?: string; type?: number; max_length?: number; options?: Opt[] };

/** Every string option of the registered commands, as "command sub option". */
function stringOptions(defs: Opt[], prefix = ''): { at: string; max: number | undefined }[] {
  return defs.flatMap((d) => {
    const at = `${prefix} ${d.name ?? '?'}`.trim();
    if (d.type === 3) return [{ at, max: d.max_length }];
    return stringOptions(d.options ?? [], at);
  });
}

test('every string option is registered with max_length', async (t) => {
  const h = await startHarness(t);
  const found = stringOptions((h.fake.state.commands.get(h.fake.guildId) ?? []) as Opt[]);
  assert.ok(found.length >= 10, `${found.length} string options`);
  for (const o of found) assert.ok(o.max !== undefined && o.max > 0 && o.max <= 1000, `${o.at}: max_length ${o.max}`);
  assert.ok(found.filter((o) => o.at.endsWith(' server')).every((o) => o.max === 64), 'server ids are at most 64 characters');
});

test('a 6000-character option value gets a short answer from every command, and a short audit row', async (t) => {
  const h = await startHarness(t, { config: { auditChannelId: AUDIT } });
  h.service.addServer('s1');
  const cases: { name: string; subcommand?: string; options: Record<string, string>; user: FakeUser }[] = [
    { name: 'status', options: { server: LONG }, user: users.guest },
    ...['start', 'stop', 'restart', 'cancel'].map((subcommand) => ({ name: 'server', subcommand, options: { server: LONG }, user: users.operator })),
    { name: 'backup', subcommand: 'create', options: { server: LONG, note: LONG }, user: users.operator },
    { name: 'backup', subcommand: 'list', options: { server: LONG }, user: users.guest },
    { name: 'backup', subcommand: 'restore', options: { server: LONG, backup: LONG }, user: users.admin },
    { name: 'backup', subcommand: 'restore', options: { server: 's1', backup: LONG }, user: users.admin },
    { name: 'rcon', options: { server: LONG, command: LONG }, user: users.admin },
    { name: 'server', subcommand: 'stop', options: { server: LONG }, user: users.guest }, // refused: audited with the id
  ];
  for (const c of cases) {
    const what = `/${c.name} ${c.subcommand ?? ''}`;
    const reply = await h.fake.command(c).reply();
    const text = messageText(reply);
    assert.match(text, /UNKNOWN_SERVER|UNKNOWN_BACKUP|needs the operator role/, `${what}: ${text.slice(0, 200)}`);
    assert.ok(reply.content.length <= 2000, `${what}: ${reply.content.length} characters`);
  }
  const denied = h.service.auditLog.find((a) => a.outcome === 'denied');
  assert.ok(denied && denied.serverId !== null && denied.serverId.length <= 100, `audit serverId ${denied?.serverId?.length}`);
  assert.deepEqual(h.fake.violations, []);
});

test('every refused button press is audited (who, custom_id form, why), and a confirm is good only on its own message', async (t) => {
  const h = await startHarness(t);
  h.service.addServer('s1');
  const stop = await h.fake.command({ name: 'server', subcommand: 'stop', options: { server: 's1' }, user: users.operator }).reply((m) => m.components.length > 0);
  const restart = await h.fake.command({ name: 'server', subcommand: 'restart', options: { server: 's1' }, user: users.operator }).reply((m) => m.components.length > 0);
  const [stopYes] = buttonIds(stop);
  const [restartYes] = buttonIds(restart);
  const denied = () => h.service.auditLog.filter((a) => a.outcome === 'denied');

  // A forged confirm id, and junk with a mention in it.
  const forged = await h.fake.pressButton({ message: stop, customId: 'rs:confirm:0123456789abcdef:yes', user: users.operator, forged: true }).reply();
  assert.match(forged.content, /expired or was already answered/);
  await h.fake.pressButton({ message: stop, customId: `<@&1>${'z'.repeat(95)}`, user: users.guest, forged: true }).reply();
  // The restart's nonce replayed on the stop's message.
  const elsewhere = await h.fake.pressButton({ message: stop, customId: restartYes!, user: users.operator, forged: true }).reply();
  assert.match(elsewhere.content, /expired or was already answered/);
  assert.equal(h.service.calls.length, 0, 'nothing ran');

  // A double click: one wins, the other is refused and audited.
  const first = h.fake.pressButton({ message: stop, customId: stopYes!, user: users.operator });
  const second = h.fake.pressButton({ message: stop, customId: stopYes!, user: users.operator });
  await first.acked();
  await second.acked();
  await h.fake.waitFor(() => h.service.calls.length === 1);
  // The restart still works on its own message: the replay did not use it up.
  await h.fake.pressButton({ message: restart, customId: restartYes!, user: users.operator }).replyMatching(/restarted/);
  assert.deepEqual(h.service.calls.map((c) => c.method), ['server.stop', 'server.restart']);

  const rows = denied();
  assert.equal(rows.length, 4, JSON.stringify(rows));
  assert.ok(rows.every((r) => r.actor.kind === 'discord'));
  assert.deepEqual(rows.map((r) => r.actor.id), [users.operator.id, users.guest.id, users.operator.id, users.operator.id]);
  assert.match(rows[0]!.detail ?? '', /"rs:confirm:<hex>:yes" \(31 chars\): unknown or expired confirmation/);
  assert.match(rows[1]!.detail ?? '', /not a ReconSync button/);
  assert.doesNotMatch(rows[1]!.detail ?? '', /<@&1>/, 'the raw custom_id is not echoed');
  assert.match(rows[2]!.detail ?? '', /another message/);
  assert.equal(rows[2]!.action, 'server.restart');
  assert.match(rows[3]!.detail ?? '', /already answered/);
  assert.deepEqual(h.fake.violations, []);
});

test('a button press from another Discord server is refused and audited', async (t) => {
  const h = await startHarness(t, { config: { guildId: '100000000000000999', statusChannelId: AUDIT } });
  h.service.addServer('s1');
  const page = await h.fake.waitFor(() => h.fake.messagesIn(AUDIT)[0]);
  const r = await h.fake.pressButton({ message: page, customId: 'rs:confirm:0123456789abcdef:yes', user: users.operator, forged: true }).reply();
  assert.match(r.content, /another Discord server/);
  const row = h.service.auditLog.find((a) => a.outcome === 'denied');
  assert.match(row?.detail ?? '', /"rs:confirm:<hex>:yes" \(31 chars\): from another Discord server/);
  assert.equal(row?.actor.id, users.operator.id);
  assert.deepEqual(h.fake.violations, []);
});
