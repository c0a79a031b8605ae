import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { API_TOKEN, signal, tempDir, waitFor } from './helpers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('runHub', () => {
  it('starts from hub.yaml, serves, and exits 0 on SIGTERM', async () => {
    const t = await tempDir();
    const cfg = path.join(t.dir, 'hub.yaml');
    await writeFile(cfg, 'listen:\n  host: 127.0.0.1\n  port: 0\ndataDir: ./data\nlogLevel: info\napi:\n  token: ${RECONSYNC_API_TOKEN}\n');
    const script = `import { runHub } from ${JSON.stringify(path.join(root, 'hub/main.ts'))}; process.exitCode = await runHub(${JSON.stringify(cfg)});`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, RECONSYNC_API_TOKEN: API_TOKEN, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const url = await waitFor(() => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1], 15_000, 'the hub to log its url');
      const res = await fetch(`${url}/healthz`);
      assert.equal(res.status, 200);
      assert.equal(out.includes(API_TOKEN), false, 'the API token must never be logged');
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit', { signal: signal(10_000) })) as [number];
      assert.equal(code, 0, out);
      assert.match(out, /hub stopped/);
    } finally {
      child.kill('SIGKILL');
      await t.cleanup();
    }
  });
});
