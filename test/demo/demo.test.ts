// Issue 6: `reconsync demo` starts, shows the server running and a verified backup, and exits cleanly on SIGINT.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { cliPath, waitFor } from '../support/stack.ts';

/** Processes whose command line mentions `needle` (Linux /proc). */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(needle)) pids.push(Number(name));
  }
  return pids;
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => l.slice(0, 400)).join('\n');
  } catch (err) {
    return String(err);
  }
}

test('demo: running server, a verified backup on screen, clean exit on Ctrl+C with nothing left behind', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, [cliPath, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DISCORD_TOKEN: '' } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
  try {
    const dir = (await waitFor(() => /everything runs on 127\.0\.0\.1 in (\S+)/.exec(out)?.[1], 30_000, 'demo banner'));
    await waitFor(() => /API token: \S+\)/.test(out), 10_000, 'API token in the banner');
    // On a timeout, the demo's own log says where it was (install, agent start, game start).
    // Read at the timeout, not when the wait began: the output so far and the demo's own log.
    const seen = () => `\n--- output ---\n${out}\n--- ${dir}/demo.log (tail) ---\n${tail(path.join(dir, 'demo.log'))}`;
    await waitFor(() => /demo-ark\s+ark\s+running\s+3\/20/.test(out), { timeoutMs: 60_000, what: 'server running in the view', detail: seen });
    await waitFor(() => /first backup done: \S+, [\d.]+ \w+, 1 verified/.test(out), { timeoutMs: 60_000, what: 'verified first backup', detail: seen });
    assert.match(out, /backup \S+ verified on local/);
    assert.ok((await processesMentioning(dir)).length > 0, 'the simulated game runs from the demo folder');

    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, out);
    assert.match(out, /demo stopped; nothing left running/);
    assert.deepEqual(await processesMentioning(dir), [], 'no process left behind');
    await assert.rejects(stat(dir), /ENOENT/, 'temporary folder removed');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
