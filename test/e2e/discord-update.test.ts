// Issue 11 §5: `/server update` from Discord (fake Discord, real hub, agent, SteamCMD stand-in and game process):
// confirm button, the reply edited with the steps, the board showing builds, alerts for each outcome.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { DiscordConfigSchema } from '../../hub/config.ts';
import { discordExtension } from '../../hub/discord-extension.ts';
import { silentLogger } from '../../lib/logger.ts';
import { installBuild } from '../../agent/update/install.ts';
import { SteamCmd } from '../../agent/update/steamcmd.ts';
import { buttonIds, FakeDiscord, messageText } from '../support/fake-discord/index.ts';
import { simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';
import { BUILD_MARKER, SteamCmdStandIn, standInProgram } from '../support/steamcmd/index.ts';
import { LogSink, ROLE, users } from '../hub/discord/harness.ts';

const SERVER = 'upd-ark';
const ARK = 376030;

describe('/server update in Discord', () => {
  let fake: FakeDiscord;
  let stack: Stack;
  let standIn: SteamCmdStandIn;
  let cleanup: () => Promise<void>;
  const logs = new LogSink();
  const [commandChannel, statusChannel, alertChannel] = ['100000000000000401', '100000000000000402', '100000000000000403'];
  const version = () => stack.hub.service.listServers().find((s) => s.id === SERVER)?.version;
  /** The audited update steps, newest first: what a timed-out wait was stuck on. */
  const steps = () => (stack.hub.service.recentAudit?.(30, SERVER) ?? []).filter((e) => e.action.startsWith('update.')).map((e) => e.detail).join(' | ');

  before(async () => {
    fake = await FakeDiscord.start({ roles: Object.values(ROLE), channels: [commandChannel, statusChannel, alertChannel] });
    const tmp = await tempDir('reconsync-e2e-discord-update-');
    cleanup = tmp.cleanup;
    standIn = new SteamCmdStandIn(tmp.dir);
    standIn.install();
    await standIn.write({ apps: { [ARK]: { branches: { public: { buildid: '100' } } } } });
    const installDir = path.join(tmp.dir, 'ark');
    const saveDir = path.join(installDir, 'ShooterGame', 'Saved', 'SavedArks');
    const steam = new SteamCmd({ path: standInProgram, os: 'linux', appCacheDir: standIn.appCacheDir, timeoutMs: 30_000, infoTimeoutMs: 30_000, logger: silentLogger });
    assert.equal((await installBuild(steam, { appId: ARK, installDir, branch: 'public', validate: false, retries: 0, logger: silentLogger })).ok, true);
    const ports = await simPorts();
    const logger = pino({ level: 'info' }, logs.stream);
    const discord = DiscordConfigSchema.parse({
      token: fake.token, applicationId: fake.applicationId, guildId: fake.guildId, apiBaseUrl: fake.apiBaseUrl,
      roles: { viewer: [], operator: [ROLE.operator], admin: [ROLE.admin] },
      statusChannelId: statusChannel, alertChannelId: alertChannel, boardEditIntervalMs: 150,
    });
    stack = await startStack(tmp.dir, [{
      id: SERVER, game: 'ark', name: 'Update ARK', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, installDir, saveDir,
      start: { command: process.execPath, args: simArgs('ark', ports, saveDir, ['--build-file', path.join(installDir, BUILD_MARKER)]) },
      health: { intervalMs: 200, startGraceMs: 60_000, failures: 2, queryTimeoutMs: 800 }, stop: { timeoutMs: 5000 },
      update: { policy: 'notify', check: '0 0 1 1 *', warnAt: [], waitForEmptyMinutes: 0 },
    }], {
      config: { steamcmd: { appCacheDir: standIn.appCacheDir, retries: 0, retryDelayMs: 10 } },
      hub: { logger: logger.child({ name: 'hub' }), extensions: [discordExtension(discord, logger)] },
      agent: { logger: logger.child({ name: 'agent' }), update: { pollMs: 50 } },
    });
    await waitFor(() => version() === '100', 30_000, 'the game running build 100');
    await fake.waitForBot();
  });

  after(async () => {
    await stack?.close();
    await fake?.close();
    await cleanup?.();
  });

  it('a new build shows on the board; an operator confirms /server update and the reply follows it to "Updated"', async () => {
    await standIn.publish(ARK, '101');
    await stack.hub.service.checkUpdate(SERVER, { kind: 'api', id: 'test' });
    await fake.waitFor(() => fake.messagesIn(statusChannel).find((m) => /build 101 available/.test(messageText(m))), { timeoutMs: 20_000, what: 'the board to show the new build' });
    await fake.waitFor(() => fake.messagesIn(alertChannel).find((m) => /update available/.test(messageText(m))), { timeoutMs: 20_000, what: 'an update_available alert' });

    const denied = await fake.command({ name: 'server', subcommand: 'update', options: { server: SERVER }, user: users.guest }).reply();
    assert.match(denied.content, /needs the operator role/);

    const prompt = await fake.command({ name: 'server', subcommand: 'update', options: { server: SERVER }, user: users.operator }).reply();
    assert.match(prompt.content, /Update \*\*Update ARK\*\*.*100.*101/s);
    assert.equal(version(), '100', 'nothing happens before the button');
    const yes = buttonIds(prompt).find((id) => id.endsWith(':yes'))!;
    const press = fake.pressButton({ message: prompt, customId: yes, user: users.operator });
    const result = await press.replyMatching(/✅ Updated/, 150_000).catch((err: Error) => { throw new Error(`${err.message}; update steps: ${steps()}`); });
    assert.match(result.content, /`100` → `101`/);
    assert.deepEqual(buttonIds(result), []);
    await waitFor(() => version() === '101', 20_000, 'the game running build 101');
    const edits = fake.callsMatching('PATCH', /\/webhooks\/\d+\/[^/]+\/messages\/@original$/).map((c) => JSON.stringify(c.body));
    assert.ok(edits.some((b) => /backup/.test(b)), 'the reply showed the backup step');
    await fake.waitFor(() => fake.messagesIn(alertChannel).find((m) => /was updated/.test(messageText(m))), { timeoutMs: 20_000, what: 'an update_ok alert' });
    assert.ok(stack.hub.service.recentAudit?.(20, SERVER).some((e) => e.action === 'server.update' && e.actor.id === users.operator.id));
  });

  it('a broken build comes back to the old one by itself, and Discord says so', async () => {
    // The first update's outcome is out before its bookkeeping ends (the journal is cleared after the outcome is
    // in the outbox): an update asked for in between is refused as BUSY, and this test would wait for a rollback.
    await waitFor(() => !stack.agent.updater.busy(SERVER), 20_000, 'the first update to finish');
    await standIn.publish(ARK, '102', 'public', { crash: true });
    const prompt = await fake.command({ name: 'server', subcommand: 'update', options: { server: SERVER }, user: users.operator }).reply();
    const press = fake.pressButton({ message: prompt, customId: buttonIds(prompt).find((id) => id.endsWith(':yes'))!, user: users.operator });
    const result = await press.replyMatching(/↩️ Update rolled back/, 150_000).catch((err: Error) => { throw new Error(`${err.message}; update steps: ${steps()}`); });
    assert.match(result.content, /build 101 put back/);
    await waitFor(() => stack.hub.service.listServers().find((s) => s.id === SERVER)?.state === 'running' && version() === '101', 20_000, 'the game running build 101 again');
    await fake.waitFor(() => fake.messagesIn(alertChannel).find((m) => /rolled back/.test(messageText(m))), { timeoutMs: 20_000, what: 'an update_rolled_back alert' });
  });
});
