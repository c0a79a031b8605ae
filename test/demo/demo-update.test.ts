// Issue 11 "done means": `reconsync demo` shows one update (the simulated game gets a new build and the agent applies it).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { cliPath, waitFor } from '../support/stack.ts';

test('demo: a new build appears and the agent updates the game to it, warning the players and backing up first', { timeout: 180_000 }, async () => {
  const child = spawn(process.execPath, [cliPath, 'demo', '--new-build-after', '1'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DISCORD_TOKEN: '' } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
  try {
    await waitFor(() => /Steam has a new build \(101\)/.test(out), { timeoutMs: 90_000, what: 'the new build announced', detail: () => `output:\n${out}` });
    await waitFor(() => /update 100 → 101: updated/.test(out), { timeoutMs: 120_000, what: 'the update applied', detail: () => `output:\n${out}` });
    assert.match(out, /update: warn: warning players: update in 15 seconds/);
    assert.match(out, /update: backup: backing up the world/);
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, out);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
