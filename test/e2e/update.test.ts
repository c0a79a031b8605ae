// Issue 11 §4-§6: the update pipeline through the HTTP API, a real hub and agent,
// the SteamCMD stand-in on PATH and a simulated ARK that reports the build it runs.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { UpdateInfo } from '../../protocol/index.ts';
import type { ServerView } from '../../hub/service/types.ts';
import { silentLogger } from '../../lib/logger.ts';
import { installBuild } from '../../agent/update/install.ts';
import { SteamCmd } from '../../agent/update/steamcmd.ts';
import { api, simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';
import { BUILD_MARKER, SteamCmdStandIn, standInProgram } from '../support/steamcmd/index.ts';

const ARK = 376030;
const fastHealth = { intervalMs: 200, startGraceMs: 60_000, failures: 2, queryTimeoutMs: 800 };

async function view(s: Stack): Promise<ServerView> {
  return (await api<ServerView>(s.hub, 'GET', '/api/v1/servers/ark')).body;
}
async function update(s: Stack): Promise<UpdateInfo> {
  const r = await api<UpdateInfo>(s.hub, 'GET', '/api/v1/servers/ark/update');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}
/** Applies an update and waits for an outcome newer than the one before. */
async function applied(s: Stack, body: object = {}): Promise<NonNullable<UpdateInfo['last']>> {
  const before = (await update(s)).last?.at ?? '';
  const r = await api<{ ok: boolean; result: { started: boolean } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/update', body);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.result.started, true);
  const info = await waitFor(async () => {
    const u = await update(s);
    return u.last && u.last.at > before && !s.agent.updater.busy('ark') && u;
  }, 150_000, 'an update outcome');
  return info.last!;
}
function alerts(s: Stack, kind: string): string[] {
  return s.hub.store.events.list('e2e-agent').filter((e) => e.topic === 'alert' && (e.data as { kind: string }).kind === kind).map((e) => (e.data as { message: string }).message);
}

test('updates through the API: available once per build, applied with a backup first, up to date, refused for disk space, failed download, broken build rolled back', { timeout: 600_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  let stack: Stack | undefined;
  try {
    const standIn = new SteamCmdStandIn(dir);
    standIn.install();
    await standIn.write({ apps: { [ARK]: { name: 'ARK Survival Evolved Dedicated Server', branches: { public: { buildid: '100' } } } } });
    const installDir = path.join(dir, 'ark');
    const saveDir = path.join(installDir, 'ShooterGame', 'Saved', 'SavedArks');
    const steam = new SteamCmd({ path: standInProgram, os: 'linux', appCacheDir: standIn.appCacheDir, timeoutMs: 30_000, infoTimeoutMs: 30_000, logger: silentLogger });
    assert.equal((await installBuild(steam, { appId: ARK, installDir, branch: 'public', validate: false, retries: 0, logger: silentLogger })).ok, true);

    let freeBytes = Number.MAX_SAFE_INTEGER;
    const ports = await simPorts();
    stack = await startStack(dir, [{
      id: 'ark', game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, installDir, saveDir,
      start: { command: process.execPath, args: simArgs('ark', ports, saveDir, ['--build-file', path.join(installDir, BUILD_MARKER)]) },
      restart: { onCrash: true, maxPerHour: 5, backoffMs: 100 }, health: fastHealth, stop: { timeoutMs: 5000 },
      update: { policy: 'notify', check: '0 0 1 1 *', warnAt: [], waitForEmptyMinutes: 0 },
    }], {
      config: { steamcmd: { appCacheDir: standIn.appCacheDir, retries: 1, retryDelayMs: 10 } },
      agent: { update: { freeSpace: async () => freeBytes, pollMs: 50 } },
    });
    const s = stack;
    await waitFor(async () => (await view(s)).state === 'running' && (await view(s)).version === '100', 30_000, 'ark running build 100');

    await t.test('a new build is reported once: check-update, alert, GET …/update', async () => {
      assert.deepEqual(await update(s), { appId: ARK, branch: 'public', installedBuild: '100', latestBuild: null, available: false, checkedAt: null, last: null });
      await standIn.publish(ARK, '101');
      const checked = await api<UpdateInfo>(s.hub, 'POST', '/api/v1/servers/ark/actions/check-update');
      assert.equal(checked.status, 200, JSON.stringify(checked.body));
      assert.equal(checked.body.latestBuild, '101');
      assert.equal(checked.body.available, true);
      await waitFor(() => alerts(s, 'update_available').length === 1, 10_000, 'update_available alert');
      await api(s.hub, 'POST', '/api/v1/servers/ark/actions/check-update');
      await waitFor(() => s.hub.store.updates.get('ark')?.checkedAt !== checked.body.checkedAt, 10_000, 'second check stored');
      assert.equal(alerts(s, 'update_available').length, 1, 'once per build');
    });

    await t.test('an update is applied: pre-update backup, new build running, update_ok', async () => {
      const last = await applied(s);
      assert.equal(last.outcome, 'updated', last.message);
      assert.deepEqual([last.from, last.to], ['100', '101']);
      await waitFor(async () => (await view(s)).version === '101', 15_000, 'ark reporting build 101');
      const backups = (await api<{ trigger: string }[]>(s.hub, 'GET', '/api/v1/servers/ark/backups')).body;
      assert.ok(backups.some((b) => b.trigger === 'pre-update'), 'a pre-update backup');
      await waitFor(() => alerts(s, 'update_ok').length === 1, 10_000, 'update_ok alert');
      assert.equal((await update(s)).installedBuild, '101');
      const steps = s.hub.store.audit.recent(100, 'ark').filter((e) => e.action === 'update.step').map((e) => e.detail?.split(':')[0]);
      for (const step of ['check', 'stop', 'backup', 'keep-previous', 'download', 'start']) assert.ok(steps.includes(step), `step ${step} audited (${steps.join(', ')})`);
    });

    await t.test('already up to date: nothing stops', async () => {
      const pid = s.agent.units.get('ark')!.supervisor.pid;
      const last = await applied(s);
      assert.equal(last.outcome, 'up_to_date');
      assert.equal(s.agent.units.get('ark')!.supervisor.pid, pid);
    });

    await t.test('too little disk space refuses the update before anything stops', async () => {
      await standIn.publish(ARK, '102');
      const pid = s.agent.units.get('ark')!.supervisor.pid;
      freeBytes = 1 << 20;
      const last = await applied(s);
      freeBytes = Number.MAX_SAFE_INTEGER;
      assert.equal(last.outcome, 'failed');
      assert.equal(last.step, 'space');
      assert.match(last.message, /not enough free disk space.*keeps running/);
      assert.equal(s.agent.units.get('ark')!.supervisor.pid, pid, 'the server was never stopped');
    });

    await t.test('SteamCMD keeps failing (0x602, then 0x402 after touching files): old build put back, server running on it', async () => {
      await standIn.fail({ kind: '0x602' }, { kind: '0x402', touch: true });
      const last = await applied(s);
      assert.equal(last.outcome, 'failed', last.message);
      assert.equal(last.step, 'download');
      assert.match(last.message, /0x402.*after 2 attempts.*previous build was put back/);
      await waitFor(async () => (await view(s)).state === 'running' && (await view(s)).version === '101', 20_000, 'ark running build 101 again');
      assert.match(await readFile(path.join(installDir, 'steamapps', `appmanifest_${ARK}.acf`), 'utf8'), /"buildid"\s+"101"/);
      await waitFor(() => alerts(s, 'update_failed').length >= 2, 10_000, 'update_failed alerts');
    });

    await t.test('a broken build is rolled back: old build and world back, server running', async () => {
      await standIn.publish(ARK, '103', 'public', { crash: true });
      const worldBefore = await readFile(path.join(installDir, 'game.bin'));
      const last = await applied(s);
      assert.equal(last.outcome, 'rolled_back', last.message);
      assert.match(last.message, /build 101 put back, world restored from .*runs again/);
      await waitFor(async () => (await view(s)).state === 'running' && (await view(s)).version === '101', 20_000, 'ark running build 101 after the rollback');
      assert.deepEqual(await readFile(path.join(installDir, 'game.bin')), worldBefore);
      assert.equal((await update(s)).installedBuild, '101');
      await waitFor(() => alerts(s, 'update_rolled_back').length === 1, 10_000, 'update_rolled_back alert');
      const audit = s.hub.store.audit.recent(50, 'ark').map((e) => e.action);
      assert.ok(audit.includes('server.update') && audit.includes('update.completed'));
    });

    await t.test('an update while a restart counts down is BUSY, and nothing stops', async () => {
      await standIn.publish(ARK, '104');
      const sup = s.agent.units.get('ark')!.supervisor;
      const pid = sup.pid;
      const restart = api(s.hub, 'POST', '/api/v1/servers/ark/actions/restart', { warnAt: [600] });
      await waitFor(() => sup.powerAction === 'restart', 10_000, 'the restart countdown');
      const r = await api<{ ok: boolean; error?: { code: string; message: string } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/update');
      assert.equal(r.status, 409);
      assert.equal(r.body.error?.code, 'BUSY');
      assert.match(r.body.error?.message ?? '', /restart is running/);
      assert.equal((await api<{ result: { cancelled: boolean } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/cancel-restart')).body.result.cancelled, true);
      await restart;
      assert.equal(s.agent.units.get('ark')!.supervisor.pid, pid);
    });

    await t.test('one update at a time: a second request while one runs is BUSY', async () => {
      const [a, b] = await Promise.all([
        api<{ ok: boolean; error?: { code: string } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/update'),
        api<{ ok: boolean; error?: { code: string } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/update'),
      ]);
      assert.deepEqual([a.status, b.status].sort(), [202, 409]);
      assert.equal((a.status === 409 ? a : b).body.error?.code, 'BUSY');
      const backup = await api<{ error?: { code: string } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/backup');
      if (s.agent.updater.busy('ark')) assert.equal(backup.body.error?.code, 'BUSY');
      await waitFor(() => !s.agent.updater.busy('ark'), 60_000, 'the update to end');
    });
  } finally {
    await stack?.close();
    await cleanup();
  }
});
