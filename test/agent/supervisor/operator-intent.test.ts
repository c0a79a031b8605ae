import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createPlatform, type CommandRunner, type Platform } from '../../../agent/platform.ts';
import { Supervisor } from '../../../agent/supervisor/supervisor.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { LineAdmin, UdpPingProbe, makeSandbox, makeServer, memoryLogger, waitGameUp, waitState, type Sandbox, type ServerSetup } from './helpers.ts';

/**
 * "Should this server run" across agent restarts, owned by the supervisor: an
 * operator's stop (operator: true) is kept in <dataDir>/intent and keeps the
 * game down when the next supervisor's autoStart() runs; the agent's own stops
 * (backup, update, restore) are not kept. Real child processes, real files.
 */
describe('Supervisor: the operator intent survives an agent restart', () => {
  let box: Sandbox;
  let logs: ReturnType<typeof memoryLogger>;
  const open: Supervisor[] = [];

  beforeEach(async () => {
    box = await makeSandbox();
    logs = memoryLogger();
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    assert.deepEqual(logs.errors(), [], 'no supervisor errors logged');
    await box.cleanup();
  });

  /** A supervisor as a (re)started agent makes it: same server, same dataDir. */
  async function agentStart(setup: ServerSetup = {}, platform: Platform = createPlatform({ os: 'linux' }), killWaitMs?: number): Promise<Supervisor> {
    const s = new Supervisor({
      server: makeServer(box, setup), probe: new UdpPingProbe(box.gameDir), admin: setup.platform === 'windows' ? null : new LineAdmin(box.gameDir),
      platform, dataDir: box.dataDir, logger: logs.logger, ...(killWaitMs !== undefined ? { killWaitMs } : {}),
    });
    open.push(s);
    await s.open();
    return s;
  }
  const record = () => path.join(box.dataDir, 'intent', 'test-1.stopped');

  test('operator stop → the next agent leaves it down; operator start → the next agent starts it; an agent stop is not kept', async () => {
    const first = await agentStart();
    await first.autoStart();
    await waitState(first, 'running');
    await first.stop({ reason: 'operator', operator: true });
    assert.ok(existsSync(record()), 'kept on disk');
    await first.close();

    const second = await agentStart();
    await second.autoStart();
    assert.equal(second.state, 'stopped', 'an operator stop stands across the agent restart');

    assert.equal(await second.start({ operator: true }), 'starting');
    assert.equal(existsSync(record()), false, 'an operator start lifts it');
    await waitState(second, 'running');
    await second.stop({ reason: 'backup (no save channel)' });
    assert.equal(existsSync(record()), false, 'the agent\'s own stop is not the operator\'s word');
    await second.close();

    const third = await agentStart();
    await third.autoStart();
    assert.equal(third.state, 'starting', 'started, since the operator\'s last word was start');
    await waitState(third, 'running');
    await third.stop();
  });

  test('an operator restart lifts an operator stop; autoStart: false never starts', async () => {
    const s = await agentStart();
    await s.stop({ reason: 'operator', operator: true });
    assert.equal(s.state, 'stopped');
    assert.ok(existsSync(record()), 'kept even when the game was not running');
    await s.restart({ reason: 'operator', operator: true });
    assert.equal(existsSync(record()), false);
    await waitState(s, 'running');
    await s.stop();
    await s.close();

    const manual = await agentStart({ config: { start: { command: process.execPath, args: [box.script, box.gameDir], cwd: box.gameDir, autoStart: false } } });
    await manual.autoStart();
    assert.equal(manual.state, 'stopped');
  });

  test('a watched server has no intent: an operator stop is refused and nothing is kept', async () => {
    const s = await agentStart({ managed: false });
    await assert.rejects(s.stop({ operator: true }), (e: unknown) => e instanceof ReconSyncError && e.code === 'NOT_MANAGED');
    await s.autoStart();
    assert.equal(existsSync(record()), false);
  });

  test('an operator stop that fails (the process outlives the hard kill) takes its record back', async () => {
    // Windows branch with a taskkill that does nothing: the only way to make a real process survive a hard kill here.
    const run: CommandRunner = async (file) => {
      if (file === 'tasklist') return { exitCode: 0, stdout: '', stderr: '' };
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    const platform = createPlatform({ os: 'windows', run, env: { USERPROFILE: 'C:\\Users\\game' } });
    const s = await agentStart({ platform: 'windows', processNames: ['game.exe'], config: { stop: { timeoutMs: 100 } } }, platform, 100);
    await s.start({ operator: true });
    await waitState(s, 'running');
    const { pid } = await waitGameUp(box.gameDir);
    await assert.rejects(s.stop({ reason: 'operator', operator: true }), (e: unknown) => e instanceof ReconSyncError && /still alive/.test(e.message));
    assert.equal(existsSync(record()), false, 'the game still runs, so no operator stop stands');
    assert.equal(s.state, 'unresponsive');
    process.kill(pid, 'SIGKILL');
    await waitState(s, 'stopped');
  });
});
