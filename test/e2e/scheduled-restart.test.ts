// Issue 13: a scheduled restart of a real (simulated) game warns players over RCON, then restarts it; the API shows the next one.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { api, simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';

const fastHealth = { intervalMs: 200, startGraceMs: 8000, failures: 2, queryTimeoutMs: 800 };

test('restart.schedule: warns at warnAt, the API cancels one run, the next restarts the game; the server view carries nextRestart', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  let stack: Stack | undefined;
  try {
    const ports = await simPorts();
    const commandLog = path.join(dir, 'ark-commands.jsonl');
    stack = await startStack(dir, [{
      id: 'ark', game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, saveDir: path.join(dir, 'ark-world'),
      start: { command: process.execPath, args: simArgs('ark', ports, path.join(dir, 'ark-world'), ['--command-log', commandLog]), autoStart: true },
      // Every 15 seconds (croner's six-field form), warned 6 s before.
      restart: { schedule: '*/15 * * * * *', timezone: 'UTC', warnAt: [0.1] }, health: fastHealth, stop: { timeoutMs: 5000 },
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
    const warnings = async () => (await commands()).filter((c) => /^broadcast .*restart in 6 seconds/i.test(c.command)).length;
    await waitFor(async () => (await warnings()) === 1, 30_000, 'the first restart warning');
    // The API's cancel reaches the agent's own countdown: players are told, nothing is stopped.
    const cancel = await api<{ ok: boolean; result: { cancelled: boolean } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/cancel-restart');
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.equal(cancel.body.result.cancelled, true);
    await waitFor(async () => (await commands()).some((c) => /^broadcast .*cancel/i.test(c.command)), 10_000, 'the cancellation broadcast');
    assert.equal(sup.pid, pid, 'the cancelled run did not restart the game');
    // The next scheduled run goes ahead.
    await waitFor(async () => (await warnings()) === 2, 30_000, 'the next restart warning');
    await waitFor(() => sup.pid !== null && sup.pid !== pid && sup.state === 'running', 30_000, 'the game restarted');
  } finally {
    await stack?.close();
    await cleanup();
  }
});
