import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { createPlatform } from '../../../agent/platform.ts';
import { ProcessLauncher, launcherPaths } from '../../../agent/supervisor/launcher.ts';
import { makeSandbox, makeServer } from './helpers.ts';

// Palworld's launcher and its -Cmd child both match the profile's names: one game, not two
// (before, a managed server adopted neither, looked stopped and was started a second time).
test('adopt on Windows: a launcher and its -Cmd child are one game (the launcher is adopted); two of a name adopt nothing', async (t) => {
  const box = await makeSandbox();
  t.after(() => box.cleanup());
  let rows: string[] = [];
  const platform = createPlatform({
    os: 'windows', env: { USERPROFILE: 'C:\\Users\\svc' },
    run: async () => ({ exitCode: 0, stdout: rows.join('\r\n'), stderr: '' }),
    runSync: () => null,
    kill: () => true,
  });
  const server = makeServer(box, { platform: 'windows', processNames: ['PalServer.exe', 'PalServer-Win64-Shipping-Cmd.exe', 'PalServer-Win64-Test-Cmd.exe'] });
  const launcher = new ProcessLauncher({ platform, dataDir: box.dataDir });

  rows = ['"PalServer-Win64-Shipping-Cmd.exe","5200","Services","0","9,000,000 K"', '"PalServer.exe","5100","Services","0","9,000 K"'];
  const h = await launcher.adopt(server);
  assert.ok(h);
  h.release();
  assert.equal(h.pid, 5100);
  assert.equal(h.origin, 'process name PalServer.exe');

  rows = ['"PalServer.exe","5100","Services","0","9,000 K"', '"PalServer.exe","6100","Services","0","9,000 K"', '"PalServer-Win64-Shipping-Cmd.exe","5200","Services","0","1 K"'];
  assert.equal(await launcher.adopt(server), null, 'two launchers: two games, none guessed');
});

test('adopt on Windows after an agent restart: a .bat start recorded cmd.exe, which the pid file and its start time identify', async (t) => {
  const box = await makeSandbox();
  t.after(() => box.cleanup());
  const platform = createPlatform({
    os: 'windows', env: { USERPROFILE: 'C:\\Users\\svc' },
    run: async () => ({ exitCode: 0, stdout: '"cmd.exe","700","Services","0","4 K"\r\n"ProjectZomboid64.exe","701","Services","0","4,000,000 K"\r\n"cmd.exe","900","Console","1","4 K"\r\n', stderr: '' }),
    runSync: (_file, args) => (args[1] === '700' ? '133774416000000000' : null),
    kill: () => true,
    windowsHelper: 'C:\\ReconSync\\service\\ReconSyncAgent.exe',
  });
  const base = makeServer(box, { platform: 'windows', processNames: ['ProjectZomboid64.exe'] });
  const server = { ...base, start: { command: 'C:\\Zomboid\\StartServer64.bat', args: [], cwd: 'C:\\Zomboid', env: {} } };
  const { pidFile } = launcherPaths(box.dataDir, server.id);
  await mkdir(path.dirname(pidFile), { recursive: true });
  await writeFile(pidFile, '700 133774416000000000\n');
  const h = await new ProcessLauncher({ platform, dataDir: box.dataDir }).adopt(server);
  assert.ok(h);
  h.release();
  assert.equal(h.pid, 700);
  assert.equal(h.origin, `pid file ${pidFile}`);
});
