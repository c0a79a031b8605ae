import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPlatform, type CommandRunner } from '../../../agent/platform.ts';
import { Supervisor } from '../../../agent/supervisor/supervisor.ts';
import { quiesce } from '../../../agent/backup/quiesce.ts';
import { ServerConfigSchema } from '../../../agent/config.ts';
import { UdpPingProbe, makeSandbox, makeServer, memoryLogger, readCommands, waitGameUp, waitState } from '../supervisor/helpers.ts';

// Issue 15, defect 7: Valheim/Enshrouded have no save channel; with stopIfNoSaveChannel a backup
// on Windows stopped them with taskkill, losing everything since the last autosave. A real game
// stand-in under a real Supervisor on the Windows branch (taskkill recorded and carried out as SIGKILL).
test('stopIfNoSaveChannel on Windows without a graceful stop: the game is not killed, its last save is archived', async (t) => {
  const box = await makeSandbox();
  const calls: string[] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push(file);
    if (file === 'taskkill') process.kill(Number(args[1]), 'SIGKILL');
    return { exitCode: 0, stdout: '', stderr: '' };
  };
  const logs = memoryLogger();
  const base = makeServer(box, { platform: 'windows', processNames: ['game.exe'] });
  const server = { ...base, config: ServerConfigSchema.parse({ ...base.config, backup: { ...base.config.backup, stopIfNoSaveChannel: true } }) };
  const sup = new Supervisor({
    server, probe: new UdpPingProbe(box.gameDir), admin: null, dataDir: box.dataDir, logger: logs.logger,
    platform: createPlatform({ os: 'windows', run, env: { USERPROFILE: 'C:\\Users\\game' } }),
  });
  t.after(async () => {
    await sup.close();
    await box.cleanup();
  });
  await sup.open();
  await sup.start();
  await waitState(sup, 'running');
  await waitGameUp(box.gameDir);
  assert.equal(sup.canStopGracefully, false);

  const q = await quiesce(server, sup, null, { logger: logs.logger });
  assert.equal(q.method, 'live');
  assert.match(q.warnings.join(), /not stopped for the backup: this game can only be hard-stopped here/);
  await q.resume();
  assert.equal(sup.state, 'running');
  assert.ok(!calls.includes('taskkill'), 'no taskkill for a backup');
  assert.deepEqual(await readCommands(box.gameDir), []);
});
