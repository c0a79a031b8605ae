import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execaSteamCmd, steamCmdEnvironment } from '../../../agent/update/steamcmd.ts';

test('SteamCMD runs without the agent token or agent.env secrets, with the OS names and STEAMCMD_ variables', async (t) => {
  const saved = { ...process.env };
  t.after(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  process.env.RECONSYNC_AGENT_TOKEN = 'agent-token-secret';
  process.env.RESTIC_PASSWORD = 'restic-secret';
  process.env.STEAMCMD_EXTRA = 'for-steamcmd';
  // A real child that prints the environment it was given.
  const run = await execaSteamCmd('/usr/bin/env', [], { timeoutMs: 10_000 });
  assert.equal(run.exitCode, 0);
  const names = run.lines.map((l) => l.split('=')[0]);
  assert.ok(!names.includes('RECONSYNC_AGENT_TOKEN'), 'no agent token');
  assert.ok(!names.includes('RESTIC_PASSWORD'), 'no agent.env secret');
  assert.ok(!run.lines.some((l) => l.includes('secret')));
  assert.ok(names.includes('PATH'));
  assert.ok(run.lines.includes('STEAMCMD_EXTRA=for-steamcmd'));
});

test('on Windows the names are matched case-insensitively', () => {
  const env = steamCmdEnvironment({ Path: 'C:\\Windows', SystemRoot: 'C:\\Windows', RECONSYNC_AGENT_TOKEN: 'x', steamcmd_dir: 'D:\\s' }, 'windows');
  assert.deepEqual(Object.keys(env).sort(), ['Path', 'SystemRoot', 'steamcmd_dir']);
});
