// Issue 7 §4: secrets are never logged or sent. A full run — `reconsync token create`, the
// hub with its Discord bot (fake Discord), an agent, a game with an RCON password, API
// calls, a backup, RCON from Discord and the API's service layer, failed logins with the
// wrong secret — with the hub's and the agent's pino output captured in memory at trace
// level, the agent→hub wire tapped, and every byte of the hub's store read back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { createAgent, type Agent } from '../../agent/agent.ts';
import { DiscordConfigSchema } from '../../hub/config.ts';
import { discordExtension } from '../../hub/discord-extension.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { PROTOCOL_MAJOR } from '../../protocol/index.ts';
import { FakeDiscord, messageText } from '../support/fake-discord/index.ts';
import { agentConfig, cliPath, simPorts, spawnSim, tempDir, waitFor, type RunningSim } from '../support/stack.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { ROLE, users } from '../hub/discord/harness.ts';
import { MemoryLog, wsPayloads } from './helpers.ts';

const run = promisify(execFile);

const API_SECRET = 'api-secret-Zq81xLw0vN3mB7cT';
const RCON_SECRET = 'rcon-secret-Hh4Ke9Pq2Yt6';
/** A password an admin sets through RCON: it must not end up in logs or the audit log either. */
const TYPED_SECRET = 'typed-secret-Uu7Rr2Ww5';
const SERVER = 'ark';
const AGENT = 'sec-agent';

describe('secrets stay secret', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let fake: FakeDiscord;
  let hub: Hub;
  let agent: Agent;
  let sim: RunningSim;
  let proxy: TcpProxy;
  let agentToken: string;
  const hubLog = new MemoryLog();
  const agentLog = new MemoryLog();
  const apiBodies: string[] = [];
  const wire = { up: [] as Buffer[], down: [] as Buffer[] };
  let cliOutput = '';
  const alertChannel = '100000000000000403';
  const auditChannel = '100000000000000404';

  const apiCall = async (method: string, p: string, token = API_SECRET, body?: unknown) => {
    const res = await fetch(`${hub.url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    apiBodies.push(`${JSON.stringify([...res.headers])}\n${text}`);
    return { status: res.status, text };
  };

  before(async () => {
    const t = await tempDir('reconsync-sec-secrets-');
    dir = t.dir;
    cleanup = t.cleanup;
    fake = await FakeDiscord.start({ roles: Object.values(ROLE), channels: ['100000000000000401', alertChannel, auditChannel] });

    // The operator's way: hub.yaml with the API token from the environment, then `reconsync token create`.
    const hubYaml = path.join(dir, 'hub.yaml');
    await writeFile(hubYaml, 'listen:\n  host: 127.0.0.1\n  port: 0\ndataDir: ./hub-data\napi:\n  token: ${RECONSYNC_API_TOKEN}\n');
    const created = await run(process.execPath, [cliPath, 'token', 'create', AGENT, '--config', hubYaml], { env: { ...process.env, RECONSYNC_API_TOKEN: API_SECRET }, timeout: 30_000 });
    agentToken = created.stdout.trim().split('\n').at(-1)!;
    assert.match(agentToken, /^rsa_/);
    cliOutput = `${created.stdout.trim().split('\n').slice(0, -1).join('\n')}\n${created.stderr}`;

    const discord = DiscordConfigSchema.parse({
      token: fake.token, applicationId: fake.applicationId, guildId: fake.guildId, apiBaseUrl: fake.apiBaseUrl,
      roles: { viewer: [], operator: [ROLE.operator], admin: [ROLE.admin] }, alertChannelId: alertChannel, auditChannelId: auditChannel,
    });
    const hubLogger = hubLog.logger('hub');
    hub = await startHub({
      config: { listen: { host: '127.0.0.1', port: 0 }, dataDir: path.join(dir, 'hub-data'), api: { token: API_SECRET }, discord, configDir: dir },
      logger: hubLogger,
      extensions: [discordExtension(discord, hubLogger)],
    });
    proxy = await TcpProxy.start({ targetPort: hub.port });
    proxy.tap = (d, c) => wire[d].push(Buffer.from(c));

    const ports = await simPorts();
    const world = path.join(dir, 'world');
    sim = await spawnSim('ark', ports, world, ['--rcon-password', RCON_SECRET, '--players', 'Ann']);
    agent = await createAgent({
      config: agentConfig(dir, {
        id: AGENT, hub: { url: proxy.agentUrl, token: agentToken },
        servers: [{
          id: SERVER, game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
          rcon: { host: '127.0.0.1', port: ports.rcon, password: RCON_SECRET }, saveDir: world,
          health: { intervalMs: 300, startGraceMs: 1000, failures: 3, queryTimeoutMs: 1000 },
          backup: { destinations: ['local'], settleMs: 100 },
        }],
      }),
      logger: agentLog.logger('agent'),
    });
    await waitFor(() => hub.service.listServers().find((s) => s.id === SERVER && s.state === 'running'), 20_000, 'the server running');
    await fake.waitForBot();

    // The run: API reads and a backup, RCON from Discord and through the service, and two mistakes with secrets.
    for (const p of ['/api/v1/agents', '/api/v1/servers', `/api/v1/servers/${SERVER}`, `/api/v1/servers/${SERVER}/backups`]) assert.equal((await apiCall('GET', p)).status, 200);
    assert.equal((await apiCall('POST', `/api/v1/servers/${SERVER}/actions/backup`, API_SECRET, { note: 'secrets run' })).status, 200);
    assert.equal((await apiCall('GET', `/api/v1/servers/${SERVER}/backups`)).status, 200);
    // Someone pastes the agent token into an API client, and the API token into an agent config.
    assert.equal((await apiCall('GET', '/api/v1/servers', agentToken)).status, 401);
    const wrong = new WebSocket(hub.agentUrl, { headers: { Authorization: `Bearer ${API_SECRET}`, 'X-ReconSync-Protocol': String(PROTOCOL_MAJOR) } });
    wrong.on('error', () => undefined);
    await new Promise<void>((resolve) => wrong.once('unexpected-response', () => resolve()));
    wrong.terminate();

    const listed = await fake.command({ name: 'rcon', options: { server: SERVER, command: 'listplayers' }, user: users.admin }).reply();
    assert.match(messageText(listed), /Ann/, 'RCON really ran (the password was right)');
    await fake.command({ name: 'rcon', options: { server: SERVER, command: `SetServerPassword ${TYPED_SECRET}` }, user: users.admin }).reply();
    await hub.service.rcon(SERVER, `ServerAdminPassword ${TYPED_SECRET}`, { kind: 'api', id: 'secrets-test' });
    await fake.command({ name: 'status', options: { server: SERVER }, user: users.guest }).reply();
    await waitFor(() => agent.link.pendingRecords === 0, 5000, 'records delivered');
  });

  after(async () => {
    await agent?.close();
    await proxy?.close();
    await hub?.close();
    await sim?.stop();
    await fake?.close();
    await cleanup?.();
  });

  /** What each secret may never be part of. */
  function places(): Record<string, string> {
    return {
      'hub log': hubLog.text,
      'agent log': agentLog.text,
      'token create output (besides the token line)': cliOutput,
      'API responses': apiBodies.join('\n'),
      // The agent's upgrade request carries its token by design; only the frames after it are searched.
      'agent → hub frames': wsPayloads(Buffer.concat(wire.up)).join('\n'),
      'hub → agent frames': wsPayloads(Buffer.concat(wire.down)).join('\n'),
      'Discord (everything the bot sent)': JSON.stringify(fake.calls.map((c) => ({ path: c.path, body: c.body }))),
    };
  }

  async function storeBytes(): Promise<string> {
    const d = path.join(dir, 'hub-data');
    const files = await readdir(d);
    return (await Promise.all(files.map((f) => readFile(path.join(d, f)).then((b) => b.toString('latin1'), () => '')))).join('\n');
  }

  it('the captures are real (positive controls)', async () => {
    const p = places();
    assert.match(p['hub log']!, /hub listening/);
    assert.match(p['agent log']!, /"agentId":"sec-agent"/);
    assert.match(p['agent → hub frames']!, /"type":"hello"/);
    assert.match(p['agent → hub frames']!, /"topic":"backup.completed"/);
    assert.match(p['hub → agent frames']!, /"type":"welcome"/);
    assert.match(p['hub → agent frames']!, /SetServerPassword/, 'the command itself reaches the agent');
    assert.match(p['Discord (everything the bot sent)']!, /Ann/);
    assert.ok((await storeBytes()).includes(AGENT), 'the store file is readable and holds the agent');
    // The upgrade request is the one place the agent token travels (as designed).
    assert.ok(Buffer.concat(wire.up).toString('latin1').includes(`Bearer ${agentToken}`));
  });

  for (const [name, secret] of [['agent token', () => agentToken], ['API token', () => API_SECRET], ['RCON password', () => RCON_SECRET], ['Discord bot token', () => 'fake-bot-token']] as const) {
    it(`the ${name} appears in no log, no API answer, no frame, nothing sent to Discord, not in the hub store`, async () => {
      const s = secret();
      for (const [where, text] of Object.entries(places())) assert.ok(!text.includes(s), `${name} found in ${where}`);
      assert.ok(!(await storeBytes()).includes(s), `${name} found in the hub store`);
    });
  }

  it('a password typed as an RCON argument stays out of the logs, the audit log and the audit channel', async () => {
    for (const where of ['hub log', 'agent log', 'API responses', 'hub → agent frames'] as const) {
      if (where === 'hub → agent frames') continue; // the command itself must reach the game
      assert.ok(!places()[where]!.includes(TYPED_SECRET), `found in ${where}`);
    }
    const auditPosts = fake.callsMatching('POST', new RegExp(`^/channels/${auditChannel}/messages$`));
    assert.ok(!JSON.stringify(auditPosts.map((c) => c.body)).includes(TYPED_SECRET), 'found in the audit channel');
    const audit = hub.service.recentAudit(50, SERVER).filter((e) => e.action === 'server.rcon');
    assert.ok(audit.length >= 3, 'every RCON command is audited');
    assert.ok(!JSON.stringify(audit).includes(TYPED_SECRET), `found in the audit log: ${JSON.stringify(audit)}`);
    assert.ok(!(await storeBytes()).includes(TYPED_SECRET), 'found in the hub store');
  });
});
