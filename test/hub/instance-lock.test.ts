// One hub per dataDir: a second hub (in this process or another, through the real CLI) is refused
// while the first runs, and the lock goes with its holder, also on kill -9 (no stale pid file).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createHub, startHub } from '../../hub/hub.ts';
import { ReconSyncError } from '../../protocol/index.ts';
import { cliPath, runCli, waitFor } from '../support/stack.ts';
import { freePort } from '../../demo/ports.ts';
import { API_TOKEN, tempDir } from './helpers.ts';

const config = (dataDir: string, port = 0) => ({ listen: { host: '127.0.0.1', port }, dataDir, api: { token: API_TOKEN } });

describe('one hub per dataDir', () => {
  it('a second hub in the same process is refused with BUSY naming the dataDir; after close() a new one starts', async () => {
    const t = await tempDir();
    try {
      const first = await startHub({ config: config(t.dir) });
      try {
        await assert.rejects(createHub({ config: config(t.dir) }), (err) => {
          assert.ok(err instanceof ReconSyncError && err.code === 'BUSY', String(err));
          assert.match(err.message, /another hub already runs on dataDir/);
          assert.ok(err.message.includes(t.dir), err.message);
          return true;
        });
        assert.equal((await fetch(`${first.url}/healthz`)).status, 200, 'the refused start left the first hub serving');
      } finally {
        await first.close();
      }
      const again = await createHub({ config: config(t.dir) });
      await again.close();
    } finally {
      await t.cleanup();
    }
  });

  it('the real CLI refuses a second hub on a running hub\'s dataDir; kill -9 of the first frees it', async () => {
    const t = await tempDir();
    const dataDir = path.join(t.dir, 'data');
    const write = async (name: string, port: number) => {
      const file = path.join(t.dir, name);
      await writeFile(file, `listen: { host: 127.0.0.1, port: ${port} }\ndataDir: ${dataDir}\napi: { token: ${API_TOKEN} }\n`);
      return file;
    };
    const firstPort = await freePort();
    const child = spawn(process.execPath, [cliPath, 'hub', '--config', await write('a.yaml', firstPort)], { stdio: 'ignore', env: { ...process.env, LOG_LEVEL: 'warn' } });
    const exited = once(child, 'exit');
    try {
      await waitFor(() => fetch(`http://127.0.0.1:${firstPort}/healthz`).then((r) => r.ok, () => false), 30_000, 'the first hub answers /healthz');

      // A different port, so only the dataDir is shared.
      const second = await runCli(['hub', '--config', await write('b.yaml', await freePort())]);
      assert.notEqual(second.code, 0, second.stderr);
      assert.match(second.stdout + second.stderr, /another hub already runs on dataDir/);
      assert.equal((await fetch(`http://127.0.0.1:${firstPort}/healthz`)).status, 200, 'the first hub is untouched');

      child.kill('SIGKILL');
      await exited;
      const third = await startHub({ config: config(dataDir) });
      assert.equal((await fetch(`${third.url}/healthz`)).status, 200);
      await third.close();
    } finally {
      child.kill('SIGKILL');
      await t.cleanup();
    }
  });
});
