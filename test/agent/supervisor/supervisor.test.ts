import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createPlatform } from '../../../agent/platform.ts';
import { Supervisor } from '../../../agent/supervisor/supervisor.ts';
import { SupervisorEvents } from '../../../agent/supervisor/events.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import {
  LineAdmin, UdpPingProbe, healthChecks, makeSandbox, makeServer, readCommands, record, waitGameUp, waitState, waitUntil,
  memoryLogger, type Sandbox, type ServerSetup,
} from './helpers.ts';

const platform = createPlatform({ os: 'linux' });

describe('Supervisor (managed, real child processes)', () => {
  let box: Sandbox;
  let sup: Supervisor | null = null;
  let logs: ReturnType<typeof memoryLogger>;

  beforeEach(async () => {
    box = await makeSandbox();
    logs = memoryLogger();
  });
  afterEach(async () => {
    await sup?.close();
    sup = null;
    assert.deepEqual(logs.errors(), [], 'no supervisor errors logged');
    await box.cleanup();
  });

  function make(setup: ServerSetup = {}, withAdmin = true): Supervisor {
    sup = new Supervisor({
      server: makeServer(box, setup),
      probe: new UdpPingProbe(box.gameDir),
      admin: withAdmin ? new LineAdmin(box.gameDir) : null,
      platform,
      dataDir: box.dataDir,
      logger: logs.logger,
    });
    return sup;
  }

  test('start → starting → running; status carries the query; operator stop saves and stops via the admin channel and never restarts', async () => {
    const s = make();
    const rec = record(s);
    const statuses: string[] = [];
    s.on(SupervisorEvents.Status, (st) => statuses.push(st.state));
    await s.open();
    assert.equal(s.state, 'stopped');

    assert.equal(await s.start(), 'starting');
    await waitState(s, 'running');
    const st = s.status();
    assert.deepEqual(st.players, { online: 3, max: 10, names: [] });
    assert.equal(st.map, 'test-map');
    assert.equal(st.managed, true);
    assert.ok(st.resources.rssBytes !== null && st.resources.rssBytes > 0, 'RSS of the game process');
    assert.ok(st.resources.diskFreeBytes !== null && st.resources.diskFreeBytes > 0, 'free disk of the save volume');
    assert.ok(st.resources.uptimeSec !== null);
    assert.ok(existsSync(path.join(box.dataDir, 'logs', 'test-1.log')));
    assert.ok(statuses.includes('running'));

    const out = await s.stop();
    assert.equal(out.graceful, true);
    assert.match(out.message, /telnet/);
    assert.equal(s.state, 'stopped');
    assert.deepEqual(await readCommands(box.gameDir), ['save', 'stop']);
    assert.deepEqual(rec.states.map((e) => e.to), ['stopped', 'starting', 'running', 'stopping', 'stopped']);

    const statusesBefore = statuses.length;
    await healthChecks(s, 5);
    assert.equal(s.state, 'stopped');
    assert.deepEqual(rec.alerts, []);
    assert.equal(statuses.length, statusesBefore, 'status is coalesced: nothing changed, no heartbeat due yet');
    assert.deepEqual(s.status().players, { online: 0, max: 0, names: [] });
  });

  test('kill -9 → crashed → restarted → running, with crashed and restarted alerts', async () => {
    const s = make();
    const rec = record(s);
    await s.open();
    await s.start();
    await waitState(s, 'running');
    const first = await waitGameUp(box.gameDir);
    assert.equal(s.pid, first.pid);

    process.kill(first.pid, 'SIGKILL');
    await waitUntil(s, () => rec.alerts.some((a) => a.kind === 'restarted'));
    await waitState(s, 'running');
    const second = await waitGameUp(box.gameDir, first.pid);
    assert.notEqual(second.pid, first.pid);
    assert.deepEqual(rec.alerts.map((a) => a.kind), ['crashed', 'restarted']);
    assert.match(rec.alerts[0]!.message, /signal SIGKILL/);
    assert.deepEqual(rec.states.slice(-3).map((e) => e.to), ['crashed', 'starting', 'running']);
  });

  test('crash loop: restarts maxPerHour times, then gives up and stays crashed', async () => {
    const s = make({ mode: 'crash', config: { restart: { maxPerHour: 2, backoffMs: 10 } } });
    const rec = record(s);
    await s.open();
    await s.start();
    await waitUntil(s, () => rec.alerts.some((a) => a.kind === 'gave_up'), 20_000);
    assert.deepEqual(rec.alerts.map((a) => a.kind), ['crashed', 'restarted', 'crashed', 'restarted', 'crashed', 'gave_up']);
    assert.equal(s.state, 'crashed');
    assert.match(s.status().message ?? '', /gave up after 2 restarts/);
    await healthChecks(s, 4);
    assert.equal(s.state, 'crashed');
    assert.equal(rec.alerts.length, 6);

    // An operator stop of a crashed server is just "stopped", and start gives a fresh budget.
    assert.deepEqual(await s.stop(), { graceful: true, message: 'already stopped' });
    assert.equal(s.state, 'stopped');
  });

  test('stop without an admin channel uses SIGINT on Linux', async () => {
    const s = make({}, false);
    await s.open();
    await s.start();
    await waitState(s, 'running');
    const out = await s.stop();
    assert.deepEqual(out, { graceful: true, message: 'stopped with SIGINT' });
    assert.deepEqual(await readCommands(box.gameDir), ['SIGINT']);
  });

  test('a game that ignores SIGINT is hard-killed after stop.timeoutMs', async () => {
    const s = make({ mode: 'ignore-int', config: { stop: { timeoutMs: 300 } } }, false);
    await s.open();
    await s.start();
    await waitState(s, 'running');
    const { pid } = await waitGameUp(box.gameDir);
    const out = await s.stop();
    assert.equal(out.graceful, false);
    assert.match(out.message, /SIGINT did not end it within 300 ms/);
    assert.equal(s.state, 'stopped');
    assert.equal(platform.isAlive(pid), false);
    assert.match(s.status().message ?? '', /SIGINT did not end it/);
  });

  test('hang: unresponsive only after the start grace and N failures, then restarted (onHang)', async () => {
    const grace = 600;
    const s = make({ mode: 'mute', config: { health: { intervalMs: 50, startGraceMs: grace, failures: 3, queryTimeoutMs: 100 }, restart: { onHang: true, maxPerHour: 1, backoffMs: 10 } } });
    const rec = record(s);
    await s.open();
    const startedAt = Date.now();
    await s.start();
    await waitState(s, 'unresponsive');
    assert.ok(Date.now() - startedAt >= grace, 'not unresponsive during the start grace');
    assert.equal(rec.alerts[0]?.kind, 'unresponsive');
    assert.deepEqual(rec.states.map((e) => e.to).slice(0, 3), ['stopped', 'starting', 'unresponsive']);
    // The hung game still takes admin commands: the restart stops it gracefully, then starts it again.
    await waitUntil(s, () => rec.alerts.some((a) => a.kind === 'restarted'));
    assert.deepEqual((await readCommands(box.gameDir)).slice(0, 2), ['save', 'stop']);
    // Still mute after the restart: the budget of 1 is spent, so it gives up and stays unresponsive.
    await waitUntil(s, () => rec.alerts.some((a) => a.kind === 'gave_up'));
    assert.equal(s.state, 'unresponsive');
  });

  test('hang that clears is recovered without a restart when onHang is off', async () => {
    const s = make({ config: { restart: { onHang: false, maxPerHour: 3, backoffMs: 10 } } });
    const rec = record(s);
    await s.open();
    await s.start();
    await waitState(s, 'running');
    const { pid } = await waitGameUp(box.gameDir);
    process.kill(pid, 'SIGUSR1');
    await waitState(s, 'unresponsive');
    process.kill(pid, 'SIGUSR2');
    await waitState(s, 'running');
    assert.deepEqual(rec.alerts.map((a) => a.kind), ['unresponsive', 'recovered']);
    assert.equal(s.pid, pid);
  });

  test('power actions are serialised: a second one is refused with BUSY, and a cancelled restart frees the lock', async () => {
    const s = make({ config: { stop: { timeoutMs: 3000 } } });
    await s.open();
    await s.start();
    await waitState(s, 'running');
    const ctl = new AbortController();
    const restarting = s.restart({ warnAt: [30], signal: ctl.signal });
    await assert.rejects(s.stop(), (e: unknown) => e instanceof ReconSyncError && e.code === 'BUSY' && /restart is already running/.test(e.message));
    ctl.abort();
    await assert.rejects(restarting, (e: unknown) => e instanceof ReconSyncError && e.code === 'CANCELLED');
    assert.equal(s.state, 'running');
    await s.stop();
  });

  test('hold: an exit while held is not a crash and is not restarted', async () => {
    const s = make();
    const rec = record(s);
    await s.open();
    await s.start();
    await waitState(s, 'running');
    const release = s.hold('backup');
    const { pid } = await waitGameUp(box.gameDir);
    process.kill(pid, 'SIGKILL');
    await waitState(s, 'stopped');
    release();
    await healthChecks(s, 4);
    assert.equal(s.state, 'stopped');
    assert.deepEqual(rec.alerts, []);
    assert.match(rec.states.at(-1)!.reason, /held by backup/);
  });

  test('rcon passes through; without an admin channel it is NOT_SUPPORTED', async () => {
    const s = make();
    await s.open();
    await s.start();
    await waitState(s, 'running');
    assert.equal(await s.rcon('status'), 'ok status');
    await s.stop();

    const bare = new Supervisor({ server: makeServer(box), probe: null, admin: null, platform, dataDir: box.dataDir });
    await assert.rejects(bare.rcon('status'), (e: unknown) => e instanceof ReconSyncError && e.code === 'NOT_SUPPORTED');
  });

  test('adopts the game it spawned earlier (agent restart) from its own pid file', async () => {
    const s = make();
    await s.open();
    await s.start();
    await waitState(s, 'running');
    const { pid } = await waitGameUp(box.gameDir);
    await s.close(); // the agent goes away; the game keeps running

    const again = make({ processNames: [box.scriptName] });
    const rec = record(again);
    await again.open();
    assert.equal(again.pid, pid);
    await waitState(again, 'running');
    assert.deepEqual(rec.states.map((e) => e.to), ['running']);
    process.kill(pid, 'SIGKILL');
    await waitUntil(again, () => rec.alerts.some((a) => a.kind === 'restarted'));
    await again.stop();
  });
});
