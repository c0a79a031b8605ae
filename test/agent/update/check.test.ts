// Issue 11 §3: the latest-build check against the real SteamCMD stand-in (a child process), quirks included.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../../lib/logger.ts';
import { checkBuild, isNewer } from '../../../agent/update/check.ts';
import { installBuild } from '../../../agent/update/install.ts';
import { SteamCmd, type SteamCmdRunner } from '../../../agent/update/steamcmd.ts';
import { parseSteamLine } from '../../../agent/update/output.ts';
import { tempDir } from '../../support/stack.ts';
import { SteamCmdStandIn, standInProgram } from '../../support/steamcmd/index.ts';

const ARK = 376030;

async function setup() {
  const t = await tempDir('reconsync-steam-');
  const standIn = new SteamCmdStandIn(t.dir);
  standIn.install();
  await standIn.write({ apps: { [ARK]: { branches: { public: { buildid: '100' } } } } });
  const steam = new SteamCmd({ path: standInProgram, os: 'linux', appCacheDir: standIn.appCacheDir, timeoutMs: 20_000, infoTimeoutMs: 20_000, logger: silentLogger });
  const installDir = path.join(t.dir, 'ark');
  await mkdir(installDir, { recursive: true });
  return { ...t, standIn, steam, installDir };
}

test('a stale app-info cache does not hide a new build: "nothing newer" is confirmed after clearing the cache', { timeout: 60_000 }, async () => {
  const { cleanup, standIn, steam, installDir } = await setup();
  try {
    const installed = await installBuild(steam, { appId: ARK, installDir, branch: 'public', validate: false, retries: 0, logger: silentLogger });
    assert.deepEqual(installed.ok && installed.build, '100');
    const first = await checkBuild(steam, { appId: ARK, branch: 'public', installDir, logger: silentLogger });
    assert.deepEqual({ installed: first.installedBuild, latest: first.latestBuild, available: first.available }, { installed: '100', latest: '100', available: false });

    // Steam gets build 101, but SteamCMD keeps answering from its cache.
    await standIn.update((c) => {
      c.staleAppInfo = true;
    });
    await standIn.publish(ARK, '101');
    const second = await checkBuild(steam, { appId: ARK, branch: 'public', installDir, logger: silentLogger });
    assert.equal(second.latestBuild, '101');
    assert.equal(second.available, true);
    assert.equal(second.refreshed, true);
  } finally {
    await cleanup();
  }
});

test('an app-info time-out is asked again with a cleared cache; an unknown branch names the ones Steam has', { timeout: 60_000 }, async () => {
  const { cleanup, standIn, steam, installDir } = await setup();
  try {
    await standIn.fail({ op: 'app_info', kind: 'timeout' });
    const r = await checkBuild(steam, { appId: ARK, branch: 'public', installDir, logger: silentLogger });
    assert.deepEqual({ installed: r.installedBuild, latest: r.latestBuild, available: r.available }, { installed: null, latest: '100', available: true });
    await assert.rejects(checkBuild(steam, { appId: ARK, branch: 'experimental', installDir, logger: silentLogger }), /no branch "experimental".*branches: public/);
  } finally {
    await cleanup();
  }
});

test('a hung SteamCMD is ended by the time limit and counts as a transient failure, retried', { timeout: 60_000 }, async () => {
  const { cleanup, standIn, installDir } = await setup();
  try {
    const steam = new SteamCmd({ path: standInProgram, os: 'linux', appCacheDir: standIn.appCacheDir, timeoutMs: 1500, infoTimeoutMs: 5000, logger: silentLogger });
    await standIn.fail({ kind: 'hang' });
    const r = await installBuild(steam, { appId: ARK, installDir, branch: 'public', validate: false, retries: 1, retryDelayMs: 1, logger: silentLogger });
    assert.equal(r.ok, true);
    assert.equal(r.attempts, 2);
  } finally {
    await cleanup();
  }
});

test('SteamCMD lines: progress, success, state errors and the self-update banner', () => {
  assert.deepEqual(parseSteamLine(' Update state (0x61) downloading, progress: 45.12 (123456 / 273624)'), { kind: 'progress', state: '0x61', phase: 'downloading', percent: 45.12, done: 123456, total: 273624 });
  assert.deepEqual(parseSteamLine("Success! App '896660' already up to date."), { kind: 'installed', appId: 896660, upToDate: true });
  assert.deepEqual(parseSteamLine("Error! App '896660' state is 0x602 after update job.\r"), { kind: 'state-error', appId: 896660, state: '0x602' });
  assert.equal(parseSteamLine('[  0%] Checking for available updates...').kind, 'self-update');
  assert.equal(isNewer('13503013', '9999999'), true, 'numeric, not string order');
  assert.equal(isNewer('100', '100'), false);
});

test('Windows: steamcmd.exe from PATH with Windows paths (injected runner)', async () => {
  const seen: { file: string; args: readonly string[] }[] = [];
  const runner: SteamCmdRunner = async (file, args) => {
    seen.push({ file, args });
    return { exitCode: 0, timedOut: false, lines: ["Success! App '2278520' fully installed."] };
  };
  const steam = new SteamCmd({ os: 'windows', timeoutMs: 1000, infoTimeoutMs: 1000, logger: silentLogger, runner, env: { PATH: 'C:\\nowhere' }, homeDir: 'C:\\Users\\svc' });
  const r = await steam.appUpdate({ appId: 2278520, installDir: 'D:\\Games\\Enshrouded Server', branch: 'public', validate: true });
  assert.equal(r.ok, true);
  assert.equal(seen[0]!.file, 'steamcmd.exe');
  assert.deepEqual(seen[0]!.args, ['+force_install_dir', 'D:\\Games\\Enshrouded Server', '+login', 'anonymous', '+app_update', '2278520', 'validate', '+quit']);
  assert.ok(steam.appCacheDirs().includes('C:\\Users\\svc\\Steam\\appcache'));
});
