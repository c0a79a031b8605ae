// Issue 11 §2: `reconsync server install` as an operator runs it, with the SteamCMD stand-in on PATH.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, tempDir } from '../support/stack.ts';
import { BUILD_MARKER, SteamCmdStandIn } from '../support/steamcmd/index.ts';

const run = promisify(execFile);

async function cli(steam: SteamCmdStandIn, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, ...args], { env: steam.env(), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function setup(dir: string, installDir: string): Promise<{ steam: SteamCmdStandIn; config: string }> {
  const steam = new SteamCmdStandIn(dir);
  await steam.write({ apps: { '376030': { name: 'ARK Survival Evolved Dedicated Server', sizeBytes: 3 << 20, branches: { public: { buildid: '100' }, beta: { buildid: '150', pwd: 'sesame' } } } } });
  const config = path.join(dir, 'agent.yaml');
  await writeFile(config, [
    'id: box-1',
    'hub: { url: ws://127.0.0.1:9/agent, token: install-test-token-0123456789 }',
    `steamcmd: { appCacheDir: ${JSON.stringify(steam.appCacheDir)}, retryDelayMs: 10 }`,
    'servers:',
    '  - id: ark',
    '    game: ark',
    `    installDir: ${JSON.stringify(installDir)}`,
    '  - id: mc',
    '    game: minecraft',
    `    installDir: ${JSON.stringify(path.join(dir, 'mc'))}`,
    '',
  ].join('\n'));
  return { steam, config };
}

test('server install: SteamCMD runs without a shell into a folder with a space; exit 0 with the manifest at the latest build', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const installDir = path.join(dir, 'ark server');
    const { steam, config } = await setup(dir, installDir);
    const r = await cli(steam, ['server', 'install', 'ark', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ark: build 100 installed in .*ark server/);
    assert.match(r.stderr, /100\.0% downloading/, 'progress lines become a progress display');
    const manifest = await readFile(path.join(installDir, 'steamapps', 'appmanifest_376030.acf'), 'utf8');
    assert.match(manifest, /"buildid"\s+"100"/);
    assert.equal(JSON.parse(await readFile(path.join(installDir, BUILD_MARKER), 'utf8')).buildid, '100');
    const calls = await steam.calls();
    assert.deepEqual(calls.at(-1), ['+force_install_dir', installDir, '+login', 'anonymous', '+app_update', '376030', '+quit']);
    assert.deepEqual(calls[0]?.slice(0, 4), ['+login', 'anonymous', '+app_info_update', '1'], 'the expected build comes from the app info first');

    const again = await cli(steam, ['server', 'install', 'ark', '--config', config]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /build 100 already installed/);
  } finally {
    await cleanup();
  }
});

test('server install: a transient 0x402 is retried; 0x202 (disk) fails with exit 1 and says so; a game not on Steam is refused', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const installDir = path.join(dir, 'ark');
    const { steam, config } = await setup(dir, installDir);
    await steam.fail({ kind: '0x402' });
    const retried = await cli(steam, ['server', 'install', 'ark', '--config', config]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stderr, /0x402.*attempt 2/);
    assert.equal((await steam.calls()).filter((a) => a.includes('+app_update')).length, 2);

    await steam.publish(376030, '101');
    await steam.fail({ kind: '0x202' });
    const full = await cli(steam, ['server', 'install', 'ark', '--config', config]);
    assert.equal(full.code, 1, 'the stand-in exits 8 but the verdict comes from the line');
    assert.match(full.stderr, /install failed: not enough disk space/);
    assert.match(await readFile(path.join(installDir, 'steamapps', 'appmanifest_376030.acf'), 'utf8'), /"buildid"\s+"100"/);

    await steam.fail({ kind: 'nosub' });
    const nosub = await cli(steam, ['server', 'install', 'ark', '--config', config]);
    assert.equal(nosub.code, 1);
    assert.match(nosub.stderr, /No subscription/, 'exit code 0 from SteamCMD, error line wins');

    const mc = await cli(steam, ['server', 'install', 'mc', '--config', config]);
    assert.equal(mc.code, 1);
    assert.match(mc.stderr, /not installed through Steam/);
  } finally {
    await cleanup();
  }
});
