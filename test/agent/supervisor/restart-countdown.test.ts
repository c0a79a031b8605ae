import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createPlatform } from '../../../agent/platform.ts';
import { Supervisor } from '../../../agent/supervisor/supervisor.ts';
import { ProcessLauncher } from '../../../agent/supervisor/launcher.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { LineAdmin, makeSandbox, makeServer, readCommands, waitGameUp, waitState, type Sandbox, memoryLogger } from './helpers.ts';

const platform = createPlatform({ os: 'linux' });
const HOUR = 3_600_000;

/**
 * The countdown runs on a FakeClock (5 minutes of warnings in milliseconds).
 * The game, its admin channel and the stop/start are real. The health loop
 * sleeps an hour of fake time, so only the countdown moves when time advances;
 * without a probe, "running" means the process is alive.
 */
describe('restart countdown', () => {
  let box: Sandbox;
  let sup: Supervisor | null = null;
  let logs: ReturnType<typeof memoryLogger>;
  let clock: FakeClock;
  /**
   * The game child is unref'd (it outlives the agent) and every wait here is on the fake
   * clock or an unref'd AbortSignal.timeout, so nothing would keep the event loop alive
   * while the real game process saves and exits: node:test would cancel the test.
   */
  let loopAnchor: NodeJS.Timeout;

  beforeEach(async () => {
    loopAnchor = setInterval(() => undefined, 60_000);
    box = await makeSandbox();
    logs = memoryLogger();
    clock = new FakeClock();
  });
  afterEach(async () => {
    await sup?.close();
    sup = null;
    assert.deepEqual(logs.errors(), [], 'no supervisor errors logged');
    await box.cleanup();
    clearInterval(loopAnchor);
  });

  async function running(): Promise<Supervisor> {
    sup = new Supervisor({
      server: makeServer(box, { config: { health: { intervalMs: HOUR, startGraceMs: 1000, failures: 3, queryTimeoutMs: 1000 } } }),
      probe: null,
      admin: new LineAdmin(box.gameDir),
      platform,
      dataDir: box.dataDir,
      logger: logs.logger,
      clock,
      launcher: new ProcessLauncher({ platform, dataDir: box.dataDir, clock, logCheckMs: 10 * HOUR }),
    });
    await sup.open();
    await sup.start();
    await waitState(sup, 'running');
    await waitGameUp(box.gameDir);
    return sup;
  }

  /** Waits (real time, with a deadline) until the game logged `n` commands. */
  async function commands(n: number): Promise<string[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const lines = await readCommands(box.gameDir);
      if (lines.length >= n) return lines;
      if (Date.now() > deadline) throw new Error(`expected ${n} commands, got ${JSON.stringify(lines)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('warns at 300, 60 and 10 s before, on time, then stops gracefully and starts again', async () => {
    const s = await running();
    const { pid: before } = await waitGameUp(box.gameDir);
    const t0 = clock.now();
    const done = s.restart({ warnAt: [10, 300, 60] });

    assert.deepEqual(await commands(1), ['say Server restart in 5 minutes.']);
    await clock.sleeping(AbortSignal.timeout(5000), (due) => due === t0 + 240_000);
    await clock.advance(239_999);
    assert.equal((await readCommands(box.gameDir)).length, 1, 'the 1-minute warning does not come early');
    await clock.advance(1);
    assert.deepEqual((await commands(2))[1], 'say Server restart in 1 minute.');

    await clock.sleeping(AbortSignal.timeout(5000), (due) => due === t0 + 290_000);
    await clock.advance(50_000);
    assert.deepEqual((await commands(3))[2], 'say Server restart in 10 seconds.');
    assert.equal(s.state, 'running', 'nothing stopped during the countdown');

    await clock.sleeping(AbortSignal.timeout(5000), (due) => due === t0 + 300_000);
    await clock.advance(10_000);
    const result = await done;
    assert.equal(result.graceful, true);
    assert.deepEqual((await readCommands(box.gameDir)).slice(3), ['save', 'stop']);
    await waitState(s, 'running');
    const { pid: after } = await waitGameUp(box.gameDir, before);
    assert.notEqual(after, before);
  });

  test('cancelled during the countdown: CANCELLED, players told, nothing stopped', async () => {
    const s = await running();
    const { pid } = await waitGameUp(box.gameDir);
    const ctl = new AbortController();
    const done = s.restart({ warnAt: [300, 60], signal: ctl.signal });
    await commands(1);
    await clock.advance(100_000);
    ctl.abort();
    await assert.rejects(done, (e: unknown) => e instanceof ReconSyncError && e.code === 'CANCELLED');
    assert.deepEqual(await commands(2), ['say Server restart in 5 minutes.', 'say Server restart cancelled.']);
    assert.equal(s.state, 'running');
    assert.equal(s.pid, pid);
    assert.equal(platform.isAlive(pid), true);
    // The lock is free again.
    await s.stop();
    assert.equal(s.state, 'stopped');
  });
});
