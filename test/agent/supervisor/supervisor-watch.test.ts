import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createPlatform } from '../../../agent/platform.ts';
import { Supervisor } from '../../../agent/supervisor/supervisor.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { UdpPingProbe, healthChecks, makeSandbox, makeServer, record, waitGameUp, waitState, type Sandbox, memoryLogger } from './helpers.ts';

const platform = createPlatform({ os: 'linux' });

describe('Supervisor (watch only)', () => {
  let box: Sandbox;
  let sup: Supervisor | null = null;
  let logs: ReturnType<typeof memoryLogger>;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    box = await makeSandbox();
    logs = memoryLogger();
  });
  afterEach(async () => {
    await sup?.close();
    sup = null;
    assert.deepEqual(logs.errors(), [], 'no supervisor errors logged');
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await box.cleanup();
  });

  /** The game as an operator runs it outside the agent, with its pid in a pid file. */
  async function runByHand(pidFile: string, notPid: number | null = null): Promise<ChildProcess> {
    const child = spawn(process.execPath, [box.script, box.gameDir, 'normal'], { stdio: 'ignore' });
    children.push(child);
    await once(child, 'spawn');
    await writeFile(pidFile, `${child.pid}\n`);
    await waitGameUp(box.gameDir, notPid);
    return child;
  }

  function make(pidFile: string): Supervisor {
    sup = new Supervisor({
      server: makeServer(box, { managed: false, config: { adopt: { pidFile } } }),
      adoptRetryMs: 0,
      probe: new UdpPingProbe(box.gameDir),
      admin: null,
      platform,
      dataDir: box.dataDir,
      logger: logs.logger,
    });
    return sup;
  }

  test('state follows the query and the adopted process; never started or killed by the supervisor', async () => {
    const pidFile = path.join(box.dir, 'game.pid');
    const game = await runByHand(pidFile);
    const s = make(pidFile);
    const rec = record(s);
    await s.open();
    assert.equal(s.pid, game.pid);
    await waitState(s, 'running');
    assert.equal(s.managed, false);
    assert.equal(s.status().managed, false);
    assert.equal(s.status().players.online, 3);

    for (const call of [() => s.start(), () => s.stop(), () => s.restart()]) {
      await assert.rejects(call(), (e: unknown) => e instanceof ReconSyncError && e.code === 'NOT_MANAGED');
    }

    game.kill('SIGUSR1');
    await waitState(s, 'unresponsive');
    game.kill('SIGUSR2');
    await waitState(s, 'running');
    assert.deepEqual(rec.alerts.map((a) => a.kind), ['unresponsive', 'recovered']);

    game.kill('SIGKILL');
    await waitState(s, 'stopped');
    await healthChecks(s, 5);
    assert.equal(s.state, 'stopped');
    assert.deepEqual(rec.alerts.map((a) => a.kind), ['unresponsive', 'recovered'], 'no crash alert, no restart for a watched server');

    // Started again by hand: adopted again, running again.
    const again = await runByHand(pidFile, game.pid!);
    await waitState(s, 'running');
    assert.equal(s.pid, again.pid);
    assert.deepEqual(rec.states.map((e) => e.to), ['running', 'unresponsive', 'running', 'stopped', 'running']);
  });

  test('no process and no answer: unknown → stopped after the failure threshold', async () => {
    const s = make(path.join(box.dir, 'missing.pid'));
    const rec = record(s);
    await s.open();
    assert.equal(s.state, 'unknown');
    await waitState(s, 'stopped');
    assert.deepEqual(rec.states.map((e) => `${e.from}>${e.to}`), ['unknown>stopped']);
    assert.match(rec.states[0]!.reason, /3 times in a row and no process/);
  });
});
