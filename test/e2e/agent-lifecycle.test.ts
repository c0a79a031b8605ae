// Issue 10 §5: stopping, restarting or upgrading the agent never stops a game; a host
// shutdown (`reconsync agent stop-games`) stops every managed game gracefully.
// Real processes throughout: the agent through the CLI, the game as a simulated ARK server
// the agent spawned, the hub in-process on loopback.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, watch } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../hub/hub.ts';
import { createToken, revokeToken } from '../../hub/tokens.ts';
import type { BackupRecord } from '../../protocol/index.ts';
import { api, cliPath, simArgs, simPorts, tempDir } from '../support/stack.ts';
import { AGENT_ID, RCON_PASSWORD, SERVER_ID, startAgentChild, startFastHub, waitFor, within, writeAgentYaml, type AgentChild, type ServerEntry } from '../fault/harness.ts';

/** How long an agent may take to exit on SIGTERM/SIGINT or a revoked token: "within seconds". */
const EXIT_DEADLINE_MS = 5_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) answers kill(pid, 0) too.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('agent lifecycle: games outlive the agent', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let hub: Hub;
  let token: string;
  let configFile: string;
  let commandLog: string;
  let dataDir: string;
  let agent: AgentChild | undefined;
  let gamePid: number | undefined;

  const pidFile = () => path.join(dataDir, 'run', `${SERVER_ID}.pid`);
  const readPid = async () => Number((await readFile(pidFile(), 'utf8')).trim().split(/\s+/)[0]);
  /** Starts an agent and waits until it reported the server running (a status newer than the start, not the hub's memory of the last agent). */
  async function startAgent(): Promise<void> {
    const since = new Date().toISOString();
    agent = startAgentChild(configFile, token);
    await waitFor(() => hub.service.listServers().find((v) => v.id === SERVER_ID && v.state === 'running' && v.updatedAt !== null && v.updatedAt > since),
      30_000, `ark running (agent stderr: ${agent?.stderr() ?? ''})`);
  }
  const alerts = (kind: string) => hub.store.events.list(AGENT_ID).filter((e) => e.topic === 'alert' && (e.data as { kind: string }).kind === kind);
  const commands = async () => (await readFile(commandLog, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { command: string }).command);

  /** Sends `signal` and asserts the agent exits on its own within the deadline. */
  async function stopAgent(signal: NodeJS.Signals): Promise<number | null> {
    const a = agent!;
    const t0 = Date.now();
    a.child.kill(signal);
    agent = undefined;
    try {
      await within(a.exited(), EXIT_DEADLINE_MS, `the agent exiting after ${signal} (stderr: ${a.stderr()})`);
    } finally {
      await a.kill9();
    }
    assert.ok(Date.now() - t0 < EXIT_DEADLINE_MS);
    return a.child.exitCode;
  }

  before(async () => {
    const t = await tempDir('reconsync-lifecycle-');
    dir = t.dir;
    cleanup = t.cleanup;
    dataDir = path.join(dir, 'agent-data');
    commandLog = path.join(dir, 'ark-commands.jsonl');
    const world = path.join(dir, 'ark-world');
    const ports = await simPorts();
    hub = await startFastHub(path.join(dir, 'hub-data'));
    token = createToken(hub.store, AGENT_ID);
    const entry: ServerEntry = {
      id: SERVER_ID, game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: RCON_PASSWORD }, saveDir: world,
      // A world big enough (incompressible) that a backup takes a visible moment to archive.
      start: { command: process.execPath, args: simArgs('ark', ports, world, ['--command-log', commandLog, '--save-bytes', String(24 * 1024 * 1024)]) },
      backup: { destinations: ['local'], keep: { last: 10, daily: 0, weekly: 0 }, settleMs: 200, settleTimeoutMs: 20_000 },
      restart: { onCrash: true, maxPerHour: 3, backoffMs: 100 },
      health: { intervalMs: 200, startGraceMs: 8000, failures: 3, queryTimeoutMs: 800 }, stop: { timeoutMs: 5000 },
    };
    configFile = await writeAgentYaml(dir, hub.agentUrl, [entry]);
    await startAgent();
    gamePid = await readPid();
    assert.ok(alive(gamePid), 'the agent started the game');
  });

  after(async () => {
    await agent?.kill9();
    if (gamePid !== undefined && alive(gamePid)) process.kill(gamePid, 'SIGKILL');
    await hub?.close();
    await cleanup?.();
  });

  it('SIGTERM: the agent exits within seconds and the game keeps running', async () => {
    assert.equal(await stopAgent('SIGTERM'), 0);
    assert.ok(alive(gamePid!), 'the game survived the agent');
    assert.equal(await readPid(), gamePid, 'the pid file stays for the next agent');
  });

  it('a new agent adopts the same game process: no restart, no crash alert', async () => {
    await startAgent();
    assert.equal(await readPid(), gamePid);
    assert.ok(alive(gamePid!));
    const log = await readFile(path.join(dataDir, 'logs', `${SERVER_ID}.log`), 'utf8');
    assert.equal(log.match(/: starting /g)?.length, 1, 'the game was started once, by the first agent');
    assert.deepEqual(alerts('crashed'), [], 'no crash alert');
    assert.deepEqual(alerts('restarted'), [], 'no restart alert');
  });

  it('a second agent on the same dataDir is refused at start, naming the running one; the first keeps its game', async () => {
    const first = agent!;
    const second = startAgentChild(configFile, token);
    try {
      await within(second.exited(), 15_000, `the second agent exiting (stderr: ${second.stderr()})`);
    } finally {
      await second.kill9();
    }
    assert.equal(second.child.exitCode, 1, second.stderr());
    assert.match(second.stderr(), new RegExp(`another agent \\(pid ${first.child.pid}\\) already runs on dataDir`));
    assert.equal(first.child.exitCode, null, 'the first agent still runs');
    assert.equal((await readFile(path.join(dataDir, 'run', 'agent.pid'), 'utf8')).split(/\s+/)[0], String(first.child.pid), 'the pid file still names the first agent');
    assert.equal(await readPid(), gamePid);
    assert.ok(alive(gamePid!));
    assert.deepEqual(alerts('crashed'), [], 'the second agent touched no game');
  });

  it('SIGINT stops the agent the same way', async () => {
    assert.equal(await stopAgent('SIGINT'), 0);
    assert.ok(alive(gamePid!));
    await startAgent();
    assert.equal(await readPid(), gamePid);
  });

  it('SIGTERM during a backup: the backup is aborted, the agent exits within seconds, the game keeps running', async () => {
    const backupsDir = path.join(dataDir, 'backups', SERVER_ID);
    await mkdir(backupsDir, { recursive: true });
    let signalledAt = 0;
    // Signal the moment the half-written archive appears: the stop must land mid-backup.
    const watcher = watch(backupsDir, () => {
      if (signalledAt || !readdirSync(backupsDir).some((n) => n.endsWith('.partial'))) return;
      signalledAt = Date.now();
      agent!.child.kill('SIGTERM');
    });
    const a = agent!;
    try {
      const call = api<{ ok: boolean; error?: { code: string } }>(hub, 'POST', `/api/v1/servers/${SERVER_ID}/actions/backup`);
      await within(a.exited(), 30_000 + EXIT_DEADLINE_MS, `the agent exiting mid-backup (stderr: ${a.stderr()})`);
      assert.ok(signalledAt > 0, 'the signal came while the archive was being written');
      assert.ok(Date.now() - signalledAt < EXIT_DEADLINE_MS, `exited ${Date.now() - signalledAt} ms after SIGTERM`);
      assert.equal(a.child.exitCode, 0, `a clean stop, not the stop deadline (stderr: ${a.stderr()})`);
      const answer = await within(call, 10_000, 'the API call of the interrupted backup');
      assert.equal(answer.body.ok, false);
    } finally {
      watcher.close();
      agent = undefined;
      await a.kill9();
    }
    assert.ok(alive(gamePid!), 'the game survived');

    await startAgent();
    assert.equal(await readPid(), gamePid, 'adopted, not restarted');
    assert.deepEqual((await readdir(backupsDir)).filter((n) => n.endsWith('.partial')), [], 'no half-written archive left');
    const next = await api<{ ok: boolean; result: BackupRecord }>(hub, 'POST', `/api/v1/servers/${SERVER_ID}/actions/backup`);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.ok(next.body.ok && next.body.result.destinations.every((d) => d.verified));
  });

  it('a revoked token ends the agent (exit 1) within seconds; the game keeps running', async () => {
    const a = agent!;
    agent = undefined;
    revokeToken(hub.store, AGENT_ID);
    try {
      // The hub closes the session within its revocation check; the agent then has the same few seconds.
      await within(a.exited(), EXIT_DEADLINE_MS + 5_000, `the agent exiting after its token was revoked (stderr: ${a.stderr()})`);
    } finally {
      await a.kill9();
    }
    assert.equal(a.child.exitCode, 1);
    assert.ok(alive(gamePid!), 'the game survived');
    token = createToken(hub.store, AGENT_ID);
  });

  it('agent stop-games saves and stops every managed game and leaves no operator stop behind', async () => {
    assert.ok(!(await commands()).includes('doexit'));
    const child = spawn(process.execPath, [cliPath, 'agent', 'stop-games', '--config', configFile], {
      env: { ...process.env, RECONSYNC_AGENT_TOKEN: token, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const [code] = await within(once(child, 'exit'), 30_000, 'stop-games') as [number | null];
    assert.equal(code, 0, out);
    assert.ok(!alive(gamePid!), 'the game exited');
    const sent = await commands();
    assert.ok(sent.includes('saveworld'), `the game was asked to save: ${sent.join(', ')}`);
    assert.ok(sent.indexOf('saveworld') < sent.lastIndexOf('doexit'), `save before stop: ${sent.join(', ')}`);
    assert.equal(existsSync(path.join(dataDir, 'intent', `${SERVER_ID}.stopped`)), false, 'not recorded as an operator stop');

    // The next boot: the agent starts the game again, since nobody asked for it to stay down.
    await startAgent();
    gamePid = await readPid();
    assert.ok(alive(gamePid));
  });
});
