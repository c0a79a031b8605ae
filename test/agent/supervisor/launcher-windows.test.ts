import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPlatform } from '../../../agent/platform.ts';
import { ProcessLauncher } from '../../../agent/supervisor/launcher.ts';
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
