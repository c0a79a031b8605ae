import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryMessageStore } from '../../../hub/discord/index.ts';
import { buttonIds, FakeDiscord, messageText } from '../../support/fake-discord/index.ts';
import { ROLE, startHarness, users, waitFor } from './harness.ts';

const COMMANDS_PUT = /^\/applications\/\d+\/guilds\/\d+\/commands$/;

test('commands are registered with one guild PUT, and not again when unchanged', async (t) => {
  const fake = await FakeDiscord.start({ roles: Object.values(ROLE) });
  t.after(() => fake.close());
  const store = new MemoryMessageStore();
  const first = await startHarness(t, { fake, store });
  assert.equal(fake.callsMatching('PUT', COMMANDS_PUT).length, 1);
  const names = (fake.state.commands.get(fake.guildId) ?? []).map((c) => c.name).sort();
  assert.deepEqual(names, ['agents', 'backup', 'console', 'players', 'rcon', 'server', 'status', 'statusboard']);
  await first.bot.close();

  const second = await startHarness(t, { fake, store });
  assert.equal(second.bot.stats().loginAttempts, 1);
  assert.equal(fake.callsMatching('PUT', COMMANDS_PUT).length, 1, 'same definitions: no second PUT');
  assert.equal(fake.callsMatching('PUT', /\/applications\/\d+\/commands$/).length, 0, 'no global registration when guildId is set');
  assert.deepEqual(fake.violations, []);
});

test('/status answers with the server card and its players; /status with no server lists all', async (t) => {
  const h = await startHarness(t);
  h.service.addServer('valheim-main', { name: 'Valheim Main', players: { online: 2, max: 10, names: ['Odin', 'Freya'] } });
  h.service.addServer('rust-1', { name: 'Rust One', state: 'crashed' });
  const one = h.fake.command({ name: 'status', options: { server: 'valheim-main' }, user: users.guest });
  const card = await one.reply();
  assert.equal(one.record.callbacks[0]?.type, 4, 'answered directly from the cache');
  const text = messageText(card);
  assert.match(text, /Valheim Main/);
  assert.match(text, /2\/10/);
  assert.match(text, /Odin, Freya/);
  const all = await h.fake.command({ name: 'status', user: users.guest }).reply();
  assert.match(messageText(all), /valheim-main[\s\S]*running[\s\S]*rust-1|rust-1[\s\S]*crashed/);
  const unknown = await h.fake.command({ name: 'status', options: { server: 'nope' }, user: users.guest }).reply();
  assert.match(unknown.content, /UNKNOWN_SERVER/);
  assert.equal(unknown.flags & 64, 64, 'errors are ephemeral');
  assert.deepEqual(h.fake.violations, []);
});

test('autocomplete offers server ids from the cache, filtered by prefix, at most 25', async (t) => {
  const h = await startHarness(t);
  for (let i = 0; i < 40; i++) h.service.addServer(`mc-${String(i).padStart(2, '0')}`);
  h.service.addServer('valheim-main', { name: 'Valheim Main' });
  const all = await h.fake.autocomplete({ name: 'status', options: { server: '' }, focused: 'server', user: users.guest }).choices();
  assert.equal(all.length, 25);
  const v = await h.fake.autocomplete({ name: 'server', subcommand: 'restart', options: { server: 'val' }, focused: 'server', user: users.operator }).choices();
  assert.deepEqual(v.map((c) => c.value), ['valheim-main']);
  const mc1 = await h.fake.autocomplete({ name: 'rcon', options: { server: 'MC-1' }, focused: 'server', user: users.admin }).choices();
  assert.deepEqual(mc1.map((c) => c.value), Array.from({ length: 10 }, (_, i) => `mc-1${i}`));
  h.service.addBackup('valheim-main');
  h.service.addBackup('valheim-main');
  const b = await h.fake.autocomplete({ name: 'backup', subcommand: 'restore', options: { server: 'valheim-main', backup: '' }, focused: 'backup', user: users.admin }).choices();
  assert.deepEqual(b.map((c) => c.value), ['b-valheim-main-2', 'b-valheim-main-1'], 'newest first');
  assert.equal(h.service.calls.length, 0, 'no agent round trip');
  assert.deepEqual(h.fake.violations, []);
});

test('a member without the operator role is refused, ephemerally, audited, and nothing runs', async (t) => {
  const h = await startHarness(t, { config: { auditChannelId: '100000000000000303' } });
  h.service.addServer('valheim-main');
  const r = await h.fake.command({ name: 'server', subcommand: 'restart', options: { server: 'valheim-main' }, user: users.guest }).reply();
  assert.equal(r.flags & 64, 64);
  assert.match(r.content, /needs the operator role/);
  const rc = await h.fake.command({ name: 'rcon', options: { server: 'valheim-main', command: 'kick all' }, user: users.operator }).reply();
  assert.match(rc.content, /needs the admin role/);
  assert.equal(h.service.calls.length, 0);
  assert.deepEqual(h.service.auditLog.map((a) => [a.action, a.outcome, a.actor.id]), [
    ['server.restart', 'denied', users.guest.id], ['rcon', 'denied', users.operator.id],
  ]);
  const audit = await h.fake.waitFor(() => (h.fake.messagesIn('100000000000000303').length === 2 ? h.fake.messagesIn('100000000000000303') : null));
  assert.match(audit[0]!.content, /server\.restart.*denied/);
  assert.doesNotMatch(audit.map((m) => m.content).join('\n'), /kick all/, 'command arguments stay out of the audit channel');
  assert.deepEqual(h.fake.violations, []);
});

test('restart asks for confirmation; another user is refused; the invoker confirms and it runs', async (t) => {
  const h = await startHarness(t);
  h.service.addServer('valheim-main', { name: 'Valheim Main' });
  const cmd = h.fake.command({ name: 'server', subcommand: 'restart', options: { server: 'valheim-main' }, user: users.operator });
  const prompt = await cmd.reply((m) => m.components.length > 0);
  assert.equal(h.service.calls.length, 0, 'nothing runs before the confirmation');
  const [yes, no] = buttonIds(prompt);
  assert.ok(yes && no && yes.length <= 100 && no.length <= 100);

  const other = await h.fake.pressButton({ message: prompt, customId: yes, user: users.operator2 }).reply();
  assert.equal(other.flags & 64, 64);
  assert.match(other.content, /Only <@200000000000000002>/);
  assert.equal(h.service.calls.length, 0);

  const press = h.fake.pressButton({ message: prompt, customId: yes, user: users.operator });
  assert.equal(await press.acked(), 7, 'the button message is updated at once');
  const done = await press.replyMatching(/restarted; state: running/);
  assert.equal(done.id, prompt.id, 'the result replaces the prompt');
  assert.deepEqual(done.components, []);
  assert.deepEqual(h.service.calls.map((c) => [c.method, c.serverId, c.actor?.id]), [['server.restart', 'valheim-main', users.operator.id]]);

  const again = await h.fake.pressButton({ message: prompt, customId: yes, user: users.operator }).reply();
  assert.match(again.content, /expired or was already answered/);
  assert.equal(h.service.calls.length, 1, 'a button cannot run twice');
  assert.deepEqual(h.fake.violations, []);
});

test('a confirmation expires: the prompt says so and a late press does nothing', async (t) => {
  const h = await startHarness(t, { options: { confirmTtlMs: 300 } });
  h.service.addServer('valheim-main');
  const cmd = h.fake.command({ name: 'server', subcommand: 'stop', options: { server: 'valheim-main' }, user: users.operator });
  const prompt = await cmd.reply((m) => m.components.length > 0);
  const [yes] = buttonIds(prompt);
  await cmd.replyMatching(/Not confirmed in time; nothing was done/);
  const late = await h.fake.pressButton({ message: prompt, customId: yes!, user: users.operator }).reply();
  assert.equal(late.flags & 64, 64);
  assert.match(late.content, /expired/);
  assert.equal(h.service.calls.length, 0);
  assert.deepEqual(h.fake.violations, []);
});

test('cancel does nothing', async (t) => {
  const h = await startHarness(t);
  h.service.addServer('valheim-main');
  const prompt = await h.fake.command({ name: 'server', subcommand: 'stop', options: { server: 'valheim-main' }, user: users.operator }).reply((m) => m.components.length > 0);
  const [, no] = buttonIds(prompt);
  await h.fake.pressButton({ message: prompt, customId: no!, user: users.operator }).replyMatching(/Cancelled/);
  assert.equal(h.service.calls.length, 0);
});

test('/backup create defers, shows progress, then the verified result', async (t) => {
  const h = await startHarness(t);
  h.service.addServer('valheim-main', { name: 'Valheim Main' });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  h.service.onCreateBackup = async (serverId, progress, note) => {
    progress({ jobId: 'j1', phase: 'archiving', bytesDone: 512, bytesTotal: 1024 });
    await gate;
    progress({ jobId: 'j1', phase: 'verifying', bytesDone: 0, bytesTotal: null });
    return h.service.addBackup(serverId, { note, destinations: [{ target: 'local', verified: true }, { target: 'b2:bucket/v', verified: true }] });
  };
  const cmd = h.fake.command({ name: 'backup', subcommand: 'create', options: { server: 'valheim-main', note: 'before update' }, user: users.operator });
  assert.equal(await cmd.acked(), 5, 'deferred because the agent may be slow');
  const progress = await cmd.replyMatching(/archiving 50%/);
  assert.match(progress.content, /Backing up/);
  release();
  const result = await cmd.replyMatching(/Backup b-valheim-main-1/);
  const text = messageText(result);
  assert.match(text, /b2:bucket\/v ✅/);
  assert.match(text, /before update/);
  assert.equal(result.content, '');
  assert.deepEqual(h.service.callsOf('backup.create').map((c) => c.args), [['before update']]);
  assert.deepEqual(h.fake.violations, []);
});

test('/backup list shows newest first; /backup restore confirms and reports the steps and outcome', async (t) => {
  const h = await startHarness(t);
  h.service.addServer('valheim-main');
  h.service.addBackup('valheim-main', { destinations: [{ target: 'local', verified: true }, { target: 'r2:x', verified: false }] });
  h.service.addBackup('valheim-main', { locked: true });
  const list = await h.fake.command({ name: 'backup', subcommand: 'list', options: { server: 'valheim-main' }, user: users.guest }).reply();
  assert.match(messageText(list), /b-valheim-main-2[^\n]*🔒[\s\S]*b-valheim-main-1[^\n]*r2:x ❌/);

  const denied = await h.fake.command({ name: 'backup', subcommand: 'restore', options: { server: 'valheim-main', backup: 'b-valheim-main-1' }, user: users.operator }).reply();
  assert.match(denied.content, /needs the admin role/);

  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  h.service.onRestore = async (_s, backupId, progress) => {
    progress({ jobId: 'r1', phase: 'extracting', bytesDone: 1, bytesTotal: 4 });
    await gate;
    return { backupId, preRestoreBackupId: 'pre-1', from: 'local' };
  };
  const cmd = h.fake.command({ name: 'backup', subcommand: 'restore', options: { server: 'valheim-main', backup: 'b-valheim-main-1' }, user: users.admin });
  const prompt = await cmd.reply((m) => m.components.length > 0);
  const press = h.fake.pressButton({ message: prompt, customId: buttonIds(prompt)[0]!, user: users.admin });
  await press.replyMatching(/extracting 25%/);
  release();
  await press.replyMatching(/Restored `b-valheim-main-1`[\s\S]*pre-1/);
  const unknown = await h.fake.command({ name: 'backup', subcommand: 'restore', options: { server: 'valheim-main', backup: 'nope' }, user: users.admin }).reply();
  assert.match(unknown.content, /UNKNOWN_BACKUP/);
  assert.deepEqual(h.fake.violations, []);
});

test('/backup restore path: one file or folder, named in the confirmation and passed to the restore (partial restore)', async (t) => {
  const h = await startHarness(t);
  h.service.addServer('valheim-main');
  h.service.addBackup('valheim-main');
  h.service.onRestore = async (_s, backupId) => ({ backupId, preRestoreBackupId: 'pre-1', from: 'restic:/srv/repo' });
  const cmd = h.fake.command({ name: 'backup', subcommand: 'restore', options: { server: 'valheim-main', backup: 'b-valheim-main-1', path: 'worlds_local/Dedicated.db' }, user: users.admin });
  const prompt = await cmd.reply((m) => m.components.length > 0);
  assert.match(prompt.content, /Restore `worlds_local\/Dedicated\.db` from backup `b-valheim-main-1`/);
  const press = h.fake.pressButton({ message: prompt, customId: buttonIds(prompt)[0]!, user: users.admin });
  await press.replyMatching(/Restored `b-valheim-main-1`[\s\S]*restic:\/srv\/repo/);
  assert.deepEqual(h.service.callsOf('backup.restore').map((c) => c.args), [['b-valheim-main-1', ['worlds_local/Dedicated.db']]]);
  // A hostile 6000-character path still gets a prompt within Discord's limits.
  const long = await h.fake.command({ name: 'backup', subcommand: 'restore', options: { server: 'valheim-main', backup: 'b-valheim-main-1', path: 'x'.repeat(6000) }, user: users.admin }).reply((m) => m.components.length > 0);
  assert.ok(long.content.length <= 2000, `${long.content.length} characters`);
  assert.deepEqual(h.fake.violations, []);
});

test('/rcon shows the output in a code block cut to 2000 characters; /agents lists agents', async (t) => {
  const h = await startHarness(t);
  h.service.addServer('valheim-main');
  h.service.onRcon = async () => ({ output: '```evil```\n' + 'x'.repeat(5000) });
  const r = await h.fake.command({ name: 'rcon', options: { server: 'valheim-main', command: 'status' }, user: users.admin }).reply();
  assert.ok(r.content.length <= 2000);
  assert.equal(r.flags & 64, 64);
  assert.match(r.content, /^🖥️ `valheim-main` › `status`\n```\n/);
  assert.ok(r.content.endsWith('\n```'));
  assert.equal(r.content.match(/```/g)?.length, 2, 'fences inside the output are neutralised');
  assert.match(r.content, /more characters/);

  h.service.addAgent('agent-2', false);
  const a = await h.fake.command({ name: 'agents', user: users.guest }).reply();
  assert.match(messageText(a), /1\/2 online[\s\S]*🟢 `agent-1`[\s\S]*🔴 `agent-2`/);
  assert.deepEqual(h.fake.violations, []);
});

test('an agent error is shown with its code, and a slow agent never breaks the 3 s rule', async (t) => {
  const h = await startHarness(t);
  h.service.addServer('valheim-main');
  const { ReconSyncError } = await import('../../../protocol/index.ts');
  // The agent answers only when the test says so: the bot must have deferred (type 5) while the action still runs.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let running = false;
  h.service.onServerAction = async () => {
    running = true;
    await released;
    throw new ReconSyncError('AGENT_OFFLINE');
  };
  const cmd = h.fake.command({ name: 'server', subcommand: 'start', options: { server: 'valheim-main' }, user: users.operator });
  assert.equal(await cmd.acked(), 5);
  await waitFor(() => running, 5000, 'the action to reach the agent');
  release();
  const r = await cmd.replyMatching(/AGENT_OFFLINE/, 8000);
  assert.match(r.content, /agent is not connected/);
  assert.deepEqual(h.fake.violations, []);
});
