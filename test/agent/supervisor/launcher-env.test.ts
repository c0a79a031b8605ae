import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createPlatform } from '../../../agent/platform.ts';
import { gameEnvironment } from '../../../agent/platform/game-env.ts';
import { ProcessLauncher, launcherPaths } from '../../../agent/supervisor/launcher.ts';
import { makeSandbox, makeServer } from './helpers.ts';

// A real game stand-in prints the environment it got; the agent's secrets must not be in it.
test('a spawned game gets the OS basics and start.env, never the agent token or agent.env secrets', async (t) => {
  const box = await makeSandbox();
  t.after(() => box.cleanup());
  const secrets = { RECONSYNC_AGENT_TOKEN: 'rs_agent_secret_token', RECONSYNC_HUB_URL: 'wss://hub.example/agent', RCLONE_CONFIG_B2_KEY: 'b2-secret', ARK_ADMIN_PASSWORD: 'from-agent-env' };
  const saved = { ...process.env };
  Object.assign(process.env, secrets, { LANG: 'C.UTF-8', LC_TIME: 'de_DE.UTF-8' });
  t.after(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  const base = makeServer(box);
  const server = {
    ...base,
    start: {
      command: process.execPath,
      args: ['-e', 'process.stdout.write("ENV=" + JSON.stringify(process.env) + "\\n")'],
      cwd: box.gameDir,
      env: { SteamAppId: '892970', GAME_PASSWORD: 'given to the game on purpose' },
    },
  };
  const launcher = new ProcessLauncher({ platform: createPlatform({ os: 'linux' }), dataDir: box.dataDir });
  const h = await launcher.spawn(server);
  await h.exited;
  const log = await readFile(launcherPaths(box.dataDir, server.id).log, 'utf8');
  const line = log.split('\n').find((l) => l.startsWith('ENV='));
  assert.ok(line, log);
  const env = JSON.parse(line.slice(4)) as Record<string, string>;
  for (const name of Object.keys(secrets)) assert.equal(env[name], undefined, `${name} reached the game`);
  assert.equal(env.PATH, process.env.PATH);
  assert.equal(env.HOME, process.env.HOME);
  assert.equal(env.LC_TIME, 'de_DE.UTF-8');
  assert.equal(env.SteamAppId, '892970');
  assert.equal(env.GAME_PASSWORD, 'given to the game on purpose');
});

test('gameEnvironment on Windows: names match case-insensitively, start.env replaces a host name in any casing', () => {
  const env = gameEnvironment(
    { Path: 'C:\\Windows', SystemRoot: 'C:\\Windows', ComSpec: 'C:\\Windows\\system32\\cmd.exe', RECONSYNC_AGENT_TOKEN: 'x', RECONSYNC_WINDOWS_HELPER: 'w.exe', ProgramData: 'C:\\ProgramData' },
    { PATH: 'D:\\Games\\bin;C:\\Windows' },
    'windows',
  );
  assert.deepEqual(env, { SystemRoot: 'C:\\Windows', ComSpec: 'C:\\Windows\\system32\\cmd.exe', ProgramData: 'C:\\ProgramData', PATH: 'D:\\Games\\bin;C:\\Windows' });
  // Linux names are case-sensitive: "path" is not PATH.
  assert.deepEqual(gameEnvironment({ PATH: '/usr/bin', path: 'x', SSH_AUTH_SOCK: '/tmp/s' }, {}, 'linux'), { PATH: '/usr/bin' });
});
