// Issue 10 §7: secrets in files. A real agent starts a simulated ARK the way the README's
// example did, with the admin password in ARK's map URL (`?ServerAdminPassword=…`), and backs
// it up to rclone destinations whose connection strings carry each kind of credential rclone
// knows (key_pem, password2, access_grant, headers, pass). Neither the game's log, the agent's
// log, the hub's store file nor any API answer may hold one of them; the game log is 0600,
// also when an older agent left it 0644.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launcherPaths } from '../../agent/supervisor/launcher.ts';
import { simMainPath } from '../../sim/index.ts';
import { api, simPorts, startStack, tempDir, tsxImport, waitFor, type Stack } from '../support/stack.ts';
import { MemoryLog } from './helpers.ts';

const RCON_SECRET = 'Rcon-Secret-7Hq2';
/** A join password only the command line knows (not in the agent's config): found by its name. */
const JOIN_SECRET = 'Join-Secret-3Kd9';
const SERVER = 'ark-island';

/** Fake credentials rclone accepts in a connection string (the local backend ignores options it does not use). */
const OPTION_SECRETS = { key_pem: 'KeyPem-Secret-1a', access_grant: 'Grant-Secret-2b', headers: 'Header-Secret-3c' };
const SFTP_PASS = 'Sftp-Pass-Secret-4d';

describe('secrets stay out of files', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let stack: Stack;
  let obscured: { password: string; password2: string };
  const agentLog = new MemoryLog();
  const apiBodies: string[] = [];
  let gameLog: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('reconsync-sec-files-'));
    obscured = {
      password: execFileSync('rclone', ['obscure', 'crypt-pass-1'], { encoding: 'utf8' }).trim(),
      password2: execFileSync('rclone', ['obscure', 'crypt-salt-2'], { encoding: 'utf8' }).trim(),
    };
    const ports = await simPorts();
    const world = path.join(dir, 'world');
    // An older agent left the log and a rotated copy world-readable.
    gameLog = launcherPaths(path.join(dir, 'agent-data'), SERVER).log;
    await mkdir(path.dirname(gameLog), { recursive: true });
    for (const f of [gameLog, `${gameLog}.1`]) {
      await writeFile(f, 'old line\n');
      await chmod(f, 0o644);
    }
    const withOptions = `:local,${Object.entries(OPTION_SECRETS).map(([k, v]) => `${k}=${v}`).join(',')}:${path.join(dir, 'vault-a')}`;
    const crypt = `:crypt,remote=${path.join(dir, 'vault-c')},password=${obscured.password},password2=${obscured.password2}:`;
    // Unreachable: rclone's error output repeats this string, credentials and all.
    const failing = `:sftp,host=127.0.0.1,port=1,user=u,pass=${SFTP_PASS},key_pem=${OPTION_SECRETS.key_pem}:dir`;
    stack = await startStack(dir, [{
      id: SERVER, game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: RCON_SECRET }, saveDir: world,
      start: {
        command: process.execPath,
        args: ['--import', tsxImport, simMainPath, `TheIsland?listen?ServerAdminPassword=${RCON_SECRET}?ServerPassword=${JOIN_SECRET}?Port=${ports.game}`,
          '--game', 'ark', '--game-port', String(ports.game), '--query-port', String(ports.query), '--rcon-port', String(ports.rcon),
          '--control-port', 'none', '--save-dir', world, '--quiet'],
        cwd: dir,
      },
      health: { intervalMs: 300, startGraceMs: 20_000, failures: 3, queryTimeoutMs: 1000 },
      backup: { destinations: ['local', withOptions, crypt, failing], settleMs: 100 },
    }], { agent: { logger: agentLog.logger('agent'), backup: { uploadAttempts: 1 } } });
    await waitFor(() => stack.hub.service.listServers().find((s) => s.id === SERVER && s.state === 'running'), 30_000, 'the game running');
    // The admin password from the map URL really is the game's: RCON with it works.
    const players = await stack.hub.service.rcon(SERVER, 'listplayers', { kind: 'api', id: 'secrets-files' });
    assert.ok(players, 'RCON answered');
    const call = async (method: string, p: string, body?: unknown) => {
      const res = await api(stack.hub, method, p, body);
      apiBodies.push(JSON.stringify(res.body));
      return res;
    };
    assert.equal((await call('POST', `/api/v1/servers/${SERVER}/actions/backup`, {})).status, 200);
    await waitFor(() => stack.agent.link.pendingRecords === 0, 10_000, 'records delivered');
    for (const p of ['/api/v1/agents', '/api/v1/servers', `/api/v1/servers/${SERVER}`, `/api/v1/servers/${SERVER}/backups`]) await call('GET', p);
  });

  after(async () => {
    await stack?.close();
    await cleanup?.();
  });

  const secrets = (): Record<string, string> => ({
    'RCON password': RCON_SECRET, 'join password': JOIN_SECRET, ...OPTION_SECRETS, 'sftp pass': SFTP_PASS,
    'crypt password': obscured.password, 'crypt password2': obscured.password2,
  });

  async function storeBytes(): Promise<string> {
    const d = path.join(dir, 'hub-data');
    return (await Promise.all((await readdir(d)).map((f) => readFile(path.join(d, f)).then((b) => b.toString('latin1'), () => '')))).join('\n');
  }

  it('the captures are real (positive controls)', async () => {
    const log = await readFile(gameLog, 'utf8');
    assert.match(log, /starting .*TheIsland\?listen\?ServerAdminPassword=\[redacted\]\?ServerPassword=\[redacted\]\?Port=\d+/, log);
    const backups = apiBodies.at(-1)!;
    assert.match(backups, /:crypt,remote=[^"]*password=\[redacted\],password2=\[redacted\]:","verified":true/, backups);
    assert.match(backups, /:local,key_pem=\[redacted\],access_grant=\[redacted\],headers=\[redacted\]:[^"]*","verified":true/, backups);
    assert.match(backups, /"verified":false,"error":"[^"]*rclone/, 'the failing destination reports rclone\'s error');
    assert.match(agentLog.text, /game process spawned/);
    assert.ok((await storeBytes()).includes('password2=[redacted]'), 'the store holds the redacted destination');
  });

  it('the game log has no secret and is readable by its owner only, rotated copies too', async () => {
    const log = await readFile(gameLog, 'utf8');
    for (const [name, s] of Object.entries(secrets())) assert.ok(!log.includes(s), `${name} in the game log`);
    if (process.platform !== 'win32') {
      for (const f of [gameLog, `${gameLog}.1`]) assert.equal((await stat(f)).mode & 0o777, 0o600, f);
    }
  });

  it('no credential of a destination reaches the agent log, the hub store or an API answer', async () => {
    const store = await storeBytes();
    for (const [name, s] of Object.entries(secrets())) {
      assert.ok(!agentLog.text.includes(s), `${name} in the agent log`);
      assert.ok(!store.includes(s), `${name} in the hub store`);
      assert.ok(!apiBodies.join('\n').includes(s), `${name} in an API answer`);
    }
  });
});
