// Issue 10 leftovers: `reconsync hub` takes SIGTERM from its first moment (a signal while
// the store opens stops it once it is up, not half-started) and its stop has a time limit.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { Store } from '../../hub/store/store.ts';
import { STOP_DEADLINE_MS as HUB_STOP_DEADLINE_MS } from '../../lib/graceful-stop.ts';
import { cliPath } from '../support/stack.ts';
import { holdExclusiveLock } from '../support/sqlite-lock.ts';
import { API_TOKEN, signal, tempDir, waitFor } from './helpers.ts';

function startHubCli(cfg: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [cliPath, 'hub', '--config', cfg], {
    env: { ...process.env, RECONSYNC_API_TOKEN: API_TOKEN, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

/** True once the process has `file` open (Linux: /proc/<pid>/fd). */
async function hasOpen(pid: number, file: string): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === file) return true;
  return false;
}

const yaml = (extra = '') => `listen:\n  host: 127.0.0.1\n  port: 0\ndataDir: ./data\nlogLevel: info\napi:\n  token: \${RECONSYNC_API_TOKEN}\n${extra}`;

describe('reconsync hub stop', () => {
  it('SIGTERM while the store is opening: the hub finishes starting, stops cleanly and exits 0', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
    const t = await tempDir();
    const cfg = path.join(t.dir, 'hub.yaml');
    await writeFile(cfg, yaml());
    const dataDir = path.join(t.dir, 'data');
    Store.open(dataDir).close();
    const file = path.join(dataDir, 'hub.sqlite');
    // Back to a rollback journal: an exclusive lock then holds readers too, so the hub's
    // start waits inside its integrity check for as long as the test holds the lock.
    const db = new Sqlite(file);
    db.pragma('journal_mode = DELETE');
    db.close();
    const lock = await holdExclusiveLock(file);
    const { child, output } = startHubCli(cfg);
    try {
      await waitFor(() => hasOpen(child.pid!, file), 15_000, 'the hub to open its store');
      assert.equal(output().includes('ReconSync hub ready'), false, output());
      const exited = once(child, 'exit', { signal: signal(15_000) });
      child.kill('SIGTERM');
      await lock.release();
      const [code, sig] = (await exited) as [number | null, string | null];
      assert.deepEqual([code, sig], [0, null], output());
      assert.match(output(), /stopping hub/);
      assert.match(output(), /hub stopped/);
    } finally {
      child.kill('SIGKILL');
      await lock.release().catch(() => undefined);
      await t.cleanup();
    }
  });

  it('a stop that hangs ends at the deadline: the hub exits 1 and says so', async () => {
    // A Discord API that accepts and never answers: the bot's login is in flight when the
    // hub stops, and its close waits for it (discord.js does not take an abort signal there).
    const held = new Set<net.Socket>();
    const blackHole = net.createServer((s) => held.add(s));
    blackHole.listen(0, '127.0.0.1');
    await once(blackHole, 'listening');
    const port = (blackHole.address() as net.AddressInfo).port;
    const t = await tempDir();
    const cfg = path.join(t.dir, 'hub.yaml');
    await writeFile(cfg, yaml(`discord:\n  token: not-a-real-token\n  applicationId: "123456789012345678"\n  apiBaseUrl: http://127.0.0.1:${port}/api\n`));
    const { child, output } = startHubCli(cfg);
    try {
      await waitFor(() => output().includes('ReconSync hub ready') && held.size > 0, 15_000, 'the hub to start and the bot to call the Discord API');
      const exited = once(child, 'exit', { signal: signal(HUB_STOP_DEADLINE_MS + 10_000) });
      const t0 = performance.now();
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      const took = performance.now() - t0;
      assert.equal(code, 1, output());
      assert.match(output(), /did not stop in time; exiting anyway/);
      assert.ok(took >= HUB_STOP_DEADLINE_MS - 500 && took < HUB_STOP_DEADLINE_MS + 4000, `exited after ${Math.round(took)} ms`);
    } finally {
      child.kill('SIGKILL');
      for (const s of held) s.destroy();
      blackHole.close();
      await t.cleanup();
    }
  });
});
