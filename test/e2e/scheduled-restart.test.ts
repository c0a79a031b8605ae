// Issue 13: a scheduled restart of a real (simulated) game warns players over RCON, then restarts it; the API shows the next one.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { api, simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';

const fastHealth = { intervalMs: 200, startGraceMs: 8000, failures: 2, queryTimeoutMs: 800 };

test('restart.schedule: warns at warnAt, restarts the game, and the server view carries nextRestart', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  let stack: Stack | undefined;
  try {
    const ports = await simPorts();
    const commandLog = path.join(dir, 'ark-commands.jsonl');
    stack = await startStack(dir, [{
      id: 'ark', game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, saveDir: path.join(dir, 'ark-world'),
      start: { command: process.execPath, args: simArgs('ark', ports, path.join(dir, 'ark-world'), ['--command-log', commandLog]), autoStart: true },
      // Every 15 seconds (croner's six-field form), warned 3 s before.
      restart: { schedule: '*/15 * * * * *', timezone: 'UTC', warnAt: [0.05] }, health: fastHealth, stop: { timeoutMs: 5000 },
    }]);
    const s = stack;
    const view = await waitFor(async () => {
      const r = await api<{ state: string; nextRestart: string | null }>(s.hub, 'GET', '/api/v1/servers/ark');
      return r.body.state === 'running' && r.body.nextRestart && r.body;
    }, 30_000, 'ark running with a next restart');
    const next = Date.parse(view.nextRestart!);
    assert.ok(next > Date.now() - 1000 && next <= Date.now() + 16_000, `next restart ${view.nextRestart} within the next 15 s`);
    const sup = s.agent.units.get('ark')!.supervisor;
    const pid = sup.pid;
    const commands = async () => (await readFile(commandLog, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { command: string });
    await waitFor(async () => (await commands()).some((c) => /^broadcast .*restart in 3 seconds/i.test(c.command)), 30_000, 'the restart warning');
    await waitFor(() => sup.pid !== null && sup.pid !== pid && sup.state === 'running', 30_000, 'the game restarted');
  } finally {
    await stack?.close();
    await cleanup();
  }
});
