// Issue 11 §7: the same update pipeline drives steamcmd.exe on Windows (injected runner; no SteamCMD for Windows here).
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { UpdateInfo } from '../../../protocol/index.ts';
import type { SteamCmdRunner } from '../../../agent/update/steamcmd.ts';
import { api, startStack, tempDir, waitFor } from '../../support/stack.ts';

const ENSHROUDED = 2278520;

test('Windows: app info and app_update go to steamcmd.exe from PATH with the same arguments; the manifest decides', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir('reconsync-win-update-');
  const calls: { file: string; args: readonly string[] }[] = [];
  let latest = '7000';
  const manifest = (build: string) => `"AppState"\n{\n\t"appid"\t\t"${ENSHROUDED}"\n\t"StateFlags"\t\t"4"\n\t"buildid"\t\t"${build}"\n}\n`;
  const installDir = path.join(dir, 'Enshrouded Server');
  const runner: SteamCmdRunner = async (file, args) => {
    calls.push({ file, args });
    if (args.includes('+app_info_print')) {
      return { exitCode: 0, timedOut: false, lines: ['Loading Steam API...OK', `AppID : ${ENSHROUDED}, change number : 1/0, last change : x`, `"${ENSHROUDED}"`, '{', '\t"depots"', '\t{', '\t\t"branches"', '\t\t{', '\t\t\t"public"', '\t\t\t{', `\t\t\t\t"buildid"\t\t"${latest}"`, '\t\t\t}', '\t\t}', '\t}', '}'] };
    }
    const dirArg = args[args.indexOf('+force_install_dir') + 1]!;
    await mkdir(path.join(dirArg, 'steamapps'), { recursive: true });
    await writeFile(path.join(dirArg, 'steamapps', `appmanifest_${ENSHROUDED}.acf`), manifest(latest));
    // Exit code 7 after success: judged by the line and the manifest, as on Linux.
    return { exitCode: 7, timedOut: false, lines: [`Success! App '${ENSHROUDED}' fully installed.`] };
  };
  await mkdir(path.join(installDir, 'steamapps'), { recursive: true });
  await writeFile(path.join(installDir, 'steamapps', `appmanifest_${ENSHROUDED}.acf`), manifest('6999'));
  const stack = await startStack(dir, [{ id: 'ens', game: 'enshrouded', installDir, saveDir: path.join(dir, 'saves'), update: { check: '0 0 1 1 *', warnAt: [] } }], {
    agent: { update: { runner, os: 'windows', pollMs: 20 } },
  });
  try {
    const r = await api<{ ok: boolean }>(stack.hub, 'POST', '/api/v1/servers/ens/actions/update');
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const info = await waitFor(async () => (await api<UpdateInfo>(stack.hub, 'GET', '/api/v1/servers/ens/update')).body.last, 20_000, 'the outcome');
    assert.equal(info.outcome, 'updated', info.message);
    assert.deepEqual([info.from, info.to], ['6999', '7000']);
    assert.ok(calls.every((c) => c.file === 'steamcmd.exe'), `every call to steamcmd.exe: ${calls.map((c) => c.file).join(', ')}`);
    assert.deepEqual(calls.at(-1)!.args, ['+force_install_dir', installDir, '+login', 'anonymous', '+app_update', String(ENSHROUDED), '+quit']);
    latest = '7001';
    const checked = await api<UpdateInfo>(stack.hub, 'POST', '/api/v1/servers/ens/actions/check-update');
    assert.deepEqual([checked.body.installedBuild, checked.body.latestBuild, checked.body.available], ['7000', '7001', true]);
  } finally {
    await stack.close();
    await cleanup();
  }
});
