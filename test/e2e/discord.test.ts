// End to end: the real hub with the real Discord bot (discord.js Client via
// discordExtension) against the fake Discord, a real agent, and a simulated
// ARK server that the agent manages as a child process, so restarts and
// crashes are real processes coming and going.
import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { DiscordConfigSchema } from '../../hub/config.ts';
import { discordExtension } from '../../hub/discord-extension.ts';
import type { Hub } from '../../hub/hub.ts';
import type { ServerView } from '../../hub/service/types.ts';
import { buttonIds, FakeDiscord, messageText, type FakeMessage, type RecordedCall } from '../support/fake-discord/index.ts';
import { simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';
import { LogSink, ROLE, users } from '../hub/discord/harness.ts';

const SERVER = 'e2e-ark';
const PLAYERS = ['Alice', 'Bob', 'Chen'];
/** ARK's stop command (games/ark.yaml): the agent sends it when it stops or restarts the game gracefully. */
const STOP_COMMAND = 'doexit';
const BOARD_EDIT_MS = 150;

interface SimCommand { command: string; action: string }

describe('Discord end to end: real hub, agent, game process and discord.js against the fake Discord', () => {
  let fake: FakeDiscord;
  let stack: Stack;
  let hub: Hub;
  let cleanup: () => Promise<void>;
  let commandLog: string;
  let gameLog: string;
  const logs = new LogSink();
  const [commandChannel, statusChannel, alertChannel] = ['100000000000000301', '100000000000000302', '100000000000000303'];

  const view = (): ServerView | undefined => hub.service.listServers().find((s) => s.id === SERVER);
  const pid = (): number | null => stack.agent.units.get(SERVER)?.supervisor.pid ?? null;
  const simCommands = async (): Promise<SimCommand[]> => {
    const text = await readFile(commandLog, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as SimCommand);
  };
  const stopCommands = async () => (await simCommands()).filter((c) => c.command.trim().toLowerCase() === STOP_COMMAND).length;

  /** Resolves on the hub service's own `server` events, with a deadline. */
  const serverState = (pred: (s: ServerView) => boolean, what: string, timeoutMs = 20_000): Promise<ServerView> => {
    const now = view();
    if (now && pred(now)) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const onServer = (s: ServerView) => {
        if (s.id !== SERVER || !pred(s)) return;
        done();
        resolve(s);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last view: ${JSON.stringify(view())}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        hub.service.off('server', onServer);
      };
      hub.service.on('server', onServer);
    });
  };

  const boardId = (): string | null => hub.store.discordMessages.get(statusChannel, 'board:0');
  const boardEdits = (id: string): RecordedCall[] => fake.callsMatching('PATCH', new RegExp(`^/channels/${statusChannel}/messages/${id}$`));
  const boardPosts = (): RecordedCall[] => fake.callsMatching('POST', new RegExp(`^/channels/${statusChannel}/messages$`));
  /**
   * Waits until successful edits of board message `id` (from recorded call `from` on) went through each pattern in
   * order: proves the board showed an outage and then the recovery, whatever edits were coalesced in between.
   */
  const boardEditedThrough = (id: string, from: number, patterns: RegExp[], what: string): Promise<string[]> => fake.waitFor(() => {
    const bodies = boardEdits(id).slice(from).filter((c) => c.status === 200).map((c) => JSON.stringify(c.body));
    let k = 0;
    for (const b of bodies) if (k < patterns.length && patterns[k]!.test(b)) k += 1;
    return k === patterns.length ? bodies : null;
  }, { timeoutMs: 20_000, what });
  /** The board's visible message once its text matches (the fake's change events drive this, no polling). */
  const boardMatching = (re: RegExp, timeoutMs = 20_000): Promise<FakeMessage> =>
    fake.waitFor(() => fake.messagesIn(statusChannel).find((m) => re.test(messageText(m))), { timeoutMs, what: `the status board to match ${re}` });

  before(async () => {
    fake = await FakeDiscord.start({ roles: Object.values(ROLE), channels: [commandChannel, statusChannel, alertChannel] });
    const tmp = await tempDir('reconsync-e2e-discord-');
    cleanup = tmp.cleanup;
    const ports = await simPorts();
    const saveDir = path.join(tmp.dir, 'world');
    commandLog = path.join(tmp.dir, 'sim-commands.jsonl');
    // What the game prints lands in <dataDir>/logs/<server>.log (startStack's agent dataDir is agent-data).
    gameLog = path.join(tmp.dir, 'agent-data', 'logs', `${SERVER}.log`);
    const logger = pino({ level: 'info' }, logs.stream);
    const discord = DiscordConfigSchema.parse({
      token: fake.token, applicationId: fake.applicationId, guildId: fake.guildId, apiBaseUrl: fake.apiBaseUrl,
      roles: { viewer: [], operator: [ROLE.operator], admin: [ROLE.admin] },
      statusChannelId: statusChannel, alertChannelId: alertChannel, boardEditIntervalMs: BOARD_EDIT_MS,
    });
    stack = await startStack(tmp.dir, [{
      id: SERVER, game: 'ark', name: 'E2E ARK', gamePort: ports.game,
      query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' },
      saveDir,
      start: {
        command: process.execPath,
        args: simArgs('ark', ports, saveDir, ['--players', PLAYERS.join(','), '--max-players', '20', '--command-log', commandLog]),
        cwd: tmp.dir,
      },
      restart: { onCrash: true, maxPerHour: 20, backoffMs: 200 },
      health: { intervalMs: 300, startGraceMs: 10_000, failures: 2, queryTimeoutMs: 1000 },
      stop: { timeoutMs: 10_000 },
      backup: { keep: { last: 5, daily: 0, weekly: 0 }, destinations: ['local'], settleMs: 100 },
    }], {
      hub: { logger: logger.child({ name: 'hub' }), extensions: [discordExtension(discord, logger)] },
      agent: { logger: logger.child({ name: 'agent' }) },
    });
    hub = stack.hub;
  });

  after(async () => {
    await stack?.close();
    await fake?.close();
    await cleanup?.();
    if (process.env.RECONSYNC_E2E_LOG) await writeFile(process.env.RECONSYNC_E2E_LOG, logs.raw.join(''));
  });

  it('registers the slash commands with one bulk PUT to the guild', async () => {
    const put = await fake.waitForCall('PUT', /^\/applications\/\d+\/guilds\/\d+\/commands$/, { timeoutMs: 15_000 });
    assert.equal(put.status, 200);
    assert.equal(put.path, `/applications/${fake.applicationId}/guilds/${fake.guildId}/commands`);
    const names = (put.body as { name: string }[]).map((c) => c.name).sort();
    assert.deepEqual(names, ['agents', 'backup', 'console', 'players', 'rcon', 'server', 'status', 'statusboard']);
    assert.equal(fake.callsMatching('PUT', /commands$/).length, 1, 'exactly one PUT, nothing per command');
    await fake.waitForBot();
  });

  it('/status answers with the running server and the players the game reports', async () => {
    await serverState((s) => s.state === 'running' && s.players.online === PLAYERS.length, 'the game to run with its players');
    const one = await fake.command({ name: 'status', options: { server: SERVER }, user: users.guest }).reply();
    const text = messageText(one);
    assert.equal(one.flags & 64, 0, 'a status card is public');
    assert.match(text, /E2E ARK/);
    assert.match(text, /🟢 running/);
    assert.match(text, /3\/20/);
    for (const p of PLAYERS) assert.match(text, new RegExp(p), `player ${p} listed`);

    const all = await fake.command({ name: 'status', user: users.guest }).reply();
    assert.match(messageText(all), new RegExp(`${SERVER}.*running.*3/20`));
  });

  it('/console follows the game log in a thread (secrets redacted by the agent), and minutes:0 archives it', async () => {
    const cmd = fake.command({ name: 'console', options: { server: SERVER, minutes: 2 }, user: users.admin });
    const reply = await cmd.replyMatching(/following in the thread below/, 10_000);
    const thread = await fake.waitFor(() => fake.threads.find((t) => t.messageId === reply.id), { timeoutMs: 10_000, what: 'the console thread' });
    assert.equal(thread.parentId, commandChannel);
    await appendFile(gameLog, 'Player Dana joined\nadmin typed: login sim-secret\n');
    const text = () => fake.messagesIn(thread.id).map((m) => m.content).join('\n');
    await fake.waitFor(() => text().includes('login [redacted]'), { timeoutMs: 15_000, what: 'the new log lines in the thread' });
    assert.match(text(), /Player Dana joined/);
    assert.ok(!text().includes('sim-secret'), 'the RCON password never reaches Discord');
    const stop = await fake.command({ name: 'console', options: { server: SERVER, minutes: 0 }, user: users.admin }).reply();
    assert.match(stop.content, /Stopped following/);
    await fake.waitFor(() => fake.threads.find((t) => t.id === thread.id)?.archived, { timeoutMs: 10_000, what: 'the thread archived' });
  });

  it('autocomplete offers the server id from the hub cache', async () => {
    const choices = await fake.autocomplete({ name: 'server', subcommand: 'restart', options: { server: 'e2e' }, focused: 'server', user: users.operator }).choices();
    assert.deepEqual(choices.map((c) => c.value), [SERVER]);
    const none = await fake.autocomplete({ name: 'status', options: { server: 'zzz' }, focused: 'server', user: users.guest }).choices();
    assert.deepEqual(none, []);
  });

  it('/server restart is refused for a member without the operator role, ephemerally, and nothing restarts', async () => {
    const pidBefore = pid();
    assert.ok(pidBefore, 'the agent runs the game');
    const stopsBefore = await stopCommands();
    const h = fake.command({ name: 'server', subcommand: 'restart', options: { server: SERVER }, user: users.guest });
    assert.equal(await h.acked(), 4);
    const reply = await h.reply();
    assert.equal(reply.flags & 64, 64, 'the denial is ephemeral');
    assert.match(reply.content, /needs the operator role/);
    assert.deepEqual(buttonIds(reply), [], 'no confirm button for a denied member');
    const denied = hub.service.recentAudit?.(20, SERVER).find((e) => e.action === 'server.restart');
    assert.equal(denied?.outcome, 'denied');
    assert.equal(denied?.actor.id, users.guest.id);
    assert.equal(pid(), pidBefore, 'same game process');
    assert.equal(await stopCommands(), stopsBefore, 'no stop command reached the game');
    assert.equal(view()?.state, 'running');
  });

  it('/server restart by an operator asks for confirmation, and the button really restarts the game', async () => {
    const pidBefore = pid();
    const stopsBefore = await stopCommands();
    const board = await boardMatching(/🟢 running/);
    const editsBefore = boardEdits(board.id).length;
    const posts = boardPosts().length;
    const ask = fake.command({ name: 'server', subcommand: 'restart', options: { server: SERVER }, user: users.operator });
    const prompt = await ask.reply();
    assert.match(prompt.content, /Restart \*\*E2E ARK\*\*/);
    assert.equal(pid(), pidBefore, 'nothing happens before the button is pressed');
    const yes = buttonIds(prompt).find((id) => id.endsWith(':yes'));
    assert.ok(yes, 'a confirm button');

    const press = fake.pressButton({ message: prompt, customId: yes, user: users.operator });
    assert.equal(await press.acked(), 7, 'the prompt becomes the progress message');
    const result = await press.replyMatching(/✅ .* restarted; state: (starting|running)/, 30_000);
    assert.deepEqual(buttonIds(result), [], 'the buttons are gone');
    assert.ok(await stopCommands() > stopsBefore, 'the agent sent the game its stop command');
    const pidAfter = pid();
    assert.ok(pidAfter && pidAfter !== pidBefore, `a new game process (${pidBefore} → ${pidAfter})`);
    await serverState((s) => s.state === 'running', 'the restarted game to run');
    await boardEditedThrough(board.id, editsBefore, [/🟡 (stopping|starting)/, /🟢 running/], 'the board to show the restart and then running');
    assert.equal(boardPosts().length, posts, 'the board followed the restart by editing its message, not posting');
    assert.equal(boardId(), board.id);
    const ok = hub.service.recentAudit?.(20, SERVER).find((e) => e.action === 'server.restart' && e.outcome === 'ok');
    assert.equal(ok?.actor.id, users.operator.id);
  });

  it('/server restart warn:1 warns players through the game, and /server cancel stops the countdown with nothing restarted', async () => {
    const pidBefore = pid();
    const stopsBefore = await stopCommands();
    const ask = fake.command({ name: 'server', subcommand: 'restart', options: { server: SERVER, warn: 1 }, user: users.operator });
    const prompt = await ask.reply();
    assert.match(prompt.content, /warned 1 min before/);
    const yes = buttonIds(prompt).find((id) => id.endsWith(':yes'))!;
    const press = fake.pressButton({ message: prompt, customId: yes, user: users.operator });
    await press.acked();
    const broadcasts = async () => (await readFile(commandLog, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { command: string }).filter((c) => c.command.startsWith('broadcast '));
    const before = (await broadcasts()).length;
    await waitFor(async () => (await broadcasts()).length > before, 10_000, 'the first warning broadcast');
    const cancel = await fake.command({ name: 'server', subcommand: 'cancel', options: { server: SERVER }, user: users.operator }).reply();
    assert.match(cancel.content, /Restart of \*\*E2E ARK\*\* .* cancelled; players were told/);
    await press.replyMatching(/cancel/i, 10_000);
    await waitFor(async () => (await broadcasts()).some((c) => /cancel/i.test(c.command)), 10_000, 'players told about the cancel');
    assert.equal(pid(), pidBefore, 'the game kept running');
    assert.equal(await stopCommands(), stopsBefore, 'no stop command reached the game');
  });

  it('/backup create edits its reply with progress and ends with the verified backup in the hub catalog', async () => {
    const h = fake.command({ name: 'backup', subcommand: 'create', options: { server: SERVER, note: 'from discord' }, user: users.operator });
    assert.equal(await h.acked(), 5, 'deferred: the agent may take longer than 3 s');
    const done = await h.reply((m) => m.embeds.length > 0, 30_000);
    const text = messageText(done);
    const id = /Backup (\S+)/.exec(String(done.embeds[0]?.title))?.[1];
    assert.ok(id, `a backup id in ${String(done.embeds[0]?.title)}`);
    assert.match(String(done.embeds[0]?.title), /^✅/);
    assert.match(text, /local ✅/);
    assert.match(text, /from discord/);

    const edits = fake.callsMatching('PATCH', /^\/webhooks\/\d+\/[^/]+\/messages\/@original$/)
      .filter((c) => fake.state.interactionsByToken.get(c.path.split('/')[3] ?? '')?.id === h.id);
    const bodies = edits.map((c) => c.body as { content?: string; embeds?: unknown[] });
    assert.ok(bodies.length >= 2, `progress then result (${bodies.length} edits)`);
    assert.match(bodies[0]?.content ?? '', /Backing up .*\n⏳/, 'the first edit is progress');
    assert.ok((bodies.at(-1)?.embeds?.length ?? 0) > 0, 'the last edit is the result');

    const rec = hub.service.listBackups(SERVER).find((b) => b.id === id);
    assert.ok(rec, 'the hub catalog has the backup');
    assert.ok(rec.destinations.length > 0 && rec.destinations.every((d) => d.verified), 'verified at every destination');
    assert.equal(rec.note, 'from discord');
  });

  it('a crash (kill -9) shows on the board by editing the same message, surviving an injected 429, and alerts', async () => {
    const board = await boardMatching(/🟢 running/);
    const id = boardId();
    assert.equal(board.id, id, 'the board message id is in the hub store');
    const posts = boardPosts().length;
    const editsBefore = boardEdits(board.id).length;
    const pidBefore = pid();
    assert.ok(pidBefore);
    // The next edit of the board message is rate limited; discord.js must wait Retry-After and send it again.
    fake.failNext({ method: 'PATCH', route: new RegExp(`^/channels/${statusChannel}/messages/${board.id}$`), count: 1, status: 429, code: 0,
      message: 'You are being rate limited.', retryAfterSec: 0.2 });

    const sawCrash = serverState((s) => s.state === 'crashed', 'the hub to see the crash');
    process.kill(pidBefore, 'SIGKILL');
    await sawCrash;
    await serverState((s) => s.state === 'running' && s.players.online === PLAYERS.length, 'the agent to bring the game back');
    assert.notEqual(pid(), pidBefore, 'a new game process');

    await boardEditedThrough(board.id, editsBefore, [/🔴 crashed|🟡 starting/, /🟢 running/], 'the board to show the crash and then running again');
    const edits = boardEdits(board.id).slice(editsBefore);
    const statuses = edits.map((c) => c.status);
    assert.ok(statuses.includes(429), `an edit was rate limited (${statuses.join(',')})`);
    const limited = edits.findIndex((c) => c.status === 429);
    const retried = edits.slice(limited + 1).find((c) => c.status === 200);
    assert.ok(retried, 'the rate-limited edit was sent again');
    assert.ok(retried.at - edits[limited]!.at >= 200, 'Retry-After was honoured');
    assert.equal(boardPosts().length, posts, 'edited, never re-posted');
    assert.equal(fake.messagesIn(statusChannel).length, 1);

    const alert = await fake.waitFor(() => fake.messagesIn(alertChannel).find((m) => /E2E ARK.*crashed/.test(m.content)),
      { timeoutMs: 10_000, what: 'a crash alert in the alert channel' });
    assert.match(alert.content, new RegExp(SERVER));
  });

  it('a 30046 (old message edit limit) on the board is survived with one fresh board message', async () => {
    const old = await boardMatching(/🟢 running/);
    const oldBackups = hub.service.listBackups(SERVER).length;
    fake.failNext({ method: 'PATCH', route: new RegExp(`^/channels/${statusChannel}/messages/${old.id}$`), count: 1, status: 400, code: 30046,
      message: 'Maximum number of edits to messages older than 1 hour reached. Try again later' });
    // Any change on the board will do: a backup taken through the service (as the HTTP API would) updates "Last backup".
    const rec = await hub.service.createBackup(SERVER, { kind: 'cli', id: 'e2e', name: 'e2e test' }, { signal: AbortSignal.timeout(30_000) });
    assert.equal(hub.service.listBackups(SERVER).length, oldBackups + 1);
    const fresh = await fake.waitFor(() => {
      const visible = fake.messagesIn(statusChannel);
      return visible.length === 1 && visible[0]!.id !== old.id ? visible[0] : null;
    }, { timeoutMs: 10_000, what: 'a fresh board message replacing the old one' });
    assert.ok(fake.calls.some((c) => c.method === 'PATCH' && c.path.endsWith(`/messages/${old.id}`) && c.status === 400), 'the edit got 30046');
    assert.equal(fake.message(old.id)?.deleted, true, 'the old message was removed');
    assert.match(messageText(fresh), /E2E ARK/);
    await waitFor(() => boardId() === fresh.id, 5000, 'the new board message id in the hub store');
    assert.ok(rec.destinations.every((d) => d.verified));
  });

  it('/metrics counts the honoured 429, the 30046 and the one live status message', async () => {
    const res = await fetch(`${hub.url}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    assert.ok(value(/^reconsync_discord_rate_limited_total (\d+)$/m) >= 1, 'a 429 was counted');
    assert.equal(value(/^reconsync_discord_edits_total\{outcome="too_old"\} (\d+)$/m), 1);
    assert.ok(value(/^reconsync_discord_edits_total\{outcome="ok"\} (\d+)$/m) >= 2);
    assert.equal(value(/^reconsync_discord_status_messages (\d+)$/m), 1);
  });

  it('broke no Discord limit, and the bot logged no errors', async () => {
    // Every interaction above was answered; the fake checks the 3 s deadline, sizes and ids on each call.
    assert.deepEqual(fake.violations, []);
    // The only failed requests are the two injected ones: nothing the bot swallowed (40060, 10008, 50035...).
    const failed = fake.calls.filter((c) => c.status >= 400).map((c) => `${c.route} → ${c.status}`);
    assert.deepEqual(failed, ['PATCH /channels/:id/messages/:id → 429', 'PATCH /channels/:id/messages/:id → 400']);
    const errors = logs.lines.filter((l) => typeof l.level === 'number' && l.level >= 50 && String(l.msg).startsWith('discord'));
    assert.deepEqual(errors, []);
  });
});
