// End to end for issue 16: a game whose map name is longer than the protocol's
// 256 characters. Before the fix every status failed the agent's own schema, so
// the API and the board stayed at "starting" and a kill -9 of the game was
// never shown or alerted. Real hub with the Discord bot against the fake
// Discord, real agent, a simulated Rust server as the agent's child process.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { DiscordConfigSchema } from '../../hub/config.ts';
import { discordExtension } from '../../hub/discord-extension.ts';
import type { ServerView } from '../../hub/service/types.ts';
import { FakeDiscord, messageText } from '../support/fake-discord/index.ts';
import { simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';
import { LogSink, ROLE } from '../hub/discord/harness.ts';

const SERVER = 'long-map';
const LONG_MAP = `Procedural ${'M'.repeat(690)}`;

describe('a 701-character map name: status, board and alerts keep working', () => {
  let fake: FakeDiscord;
  let stack: Stack;
  let cleanup: () => Promise<void>;
  const logs = new LogSink();
  const [statusChannel, alertChannel] = ['100000000000000302', '100000000000000303'];
  const view = (): ServerView | undefined => stack.hub.service.listServers().find((s) => s.id === SERVER);

  before(async () => {
    fake = await FakeDiscord.start({ roles: Object.values(ROLE), channels: ['100000000000000301', statusChannel, alertChannel] });
    const tmp = await tempDir('reconsync-e2e-longmap-');
    cleanup = tmp.cleanup;
    const ports = await simPorts();
    const saveDir = path.join(tmp.dir, 'world');
    const logger = pino({ level: 'info' }, logs.stream);
    const discord = DiscordConfigSchema.parse({
      token: fake.token, applicationId: fake.applicationId, guildId: fake.guildId, apiBaseUrl: fake.apiBaseUrl,
      roles: { viewer: [], operator: [ROLE.operator], admin: [ROLE.admin] },
      statusChannelId: statusChannel, alertChannelId: alertChannel, boardEditIntervalMs: 150,
    });
    stack = await startStack(tmp.dir, [{
      id: SERVER, game: 'rust', name: 'Long Map Rust', gamePort: ports.game,
      query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' },
      saveDir,
      start: { command: process.execPath, args: simArgs('rust', ports, saveDir, ['--players', 'Ann,Ben', '--map', LONG_MAP]), cwd: tmp.dir },
      restart: { onCrash: true, maxPerHour: 20, backoffMs: 200 },
      health: { intervalMs: 300, startGraceMs: 10_000, failures: 2, queryTimeoutMs: 1000 },
      stop: { timeoutMs: 10_000 },
    }], {
      hub: { logger: logger.child({ name: 'hub' }), extensions: [discordExtension(discord, logger)] },
      agent: { logger: logger.child({ name: 'agent' }) },
    });
  });

  after(async () => {
    await stack?.close();
    await fake?.close();
    await cleanup?.();
  });

  it('the status reaches the hub with the map cut to 256 characters, and the board shows it running', async () => {
    const running = await waitFor(() => view()?.state === 'running' && view()!.players.online === 2 && view(), 20_000, 'the game to run');
    assert.equal(running.map, LONG_MAP.slice(0, 256));
    const board = await fake.waitFor(() => fake.messagesIn(statusChannel).find((m) => /🟢 running/.test(messageText(m))), { timeoutMs: 20_000, what: 'the board running' });
    assert.match(messageText(board), /Procedural M{200}/);
  });

  it('a kill -9 of the game shows on the board and alerts', async () => {
    const pid = stack.agent.units.get(SERVER)?.supervisor.pid;
    assert.ok(pid);
    const saw = new Promise<void>((resolve) => {
      const on = (s: ServerView) => {
        if (s.id !== SERVER || s.state !== 'crashed') return;
        stack.hub.service.off('server', on);
        resolve();
      };
      stack.hub.service.on('server', on);
    });
    process.kill(pid, 'SIGKILL');
    await saw;
    const alert = await fake.waitFor(() => fake.messagesIn(alertChannel).find((m) => /Long Map Rust.*crashed/.test(m.content)), { timeoutMs: 15_000, what: 'a crash alert' });
    assert.match(alert.content, new RegExp(SERVER));
    await waitFor(() => view()?.state === 'running', 20_000, 'the game back');
    // The schema failure was logged at most once per field, not once per status.
    const repairs = logs.lines.filter((l) => /published without the fields|Too big/.test(String(l.msg)));
    assert.ok(repairs.length <= 1, `${repairs.length} log lines about the status schema`);
    assert.deepEqual(fake.violations, []);
  });
});
