import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { statfs } from 'node:fs/promises';
import { ResourcesSchema } from '../../../protocol/index.ts';
import { freeBytesOf, sampleResources, type ResourceDeps } from '../../../agent/monitors/resources.ts';

// Burns CPU without pause and writes a line (synchronously) after every 200 ms of it.
const busy = spawn(process.execPath, ['-e', 'const fs = require("fs"); for (;;) { const end = Date.now() + 200; while (Date.now() < end); fs.writeSync(1, "tick\\n"); }'], { stdio: ['ignore', 'pipe', 'ignore'] });
after(() => { busy.kill('SIGKILL'); });

/** Resolves on the busy child's next line. */
function nextTick(): Promise<unknown> {
  return once(busy.stdout!, 'data');
}

test('real process: CPU %, RSS, uptime; free disk of the save volume', async () => {
  await nextTick();
  const first = await sampleResources({ pid: busy.pid!, startedAt: null, savePath: os.tmpdir() });
  assert.equal(first.cpuPercent, null, 'the first sample cannot know the CPU use yet');
  assert.ok(first.rssBytes !== null && first.rssBytes > 0);
  await nextTick();
  await nextTick(); // ≥ 200 ms of burning since the first sample
  const r = await sampleResources({ pid: busy.pid!, startedAt: null, savePath: os.tmpdir() });
  ResourcesSchema.parse(r);
  assert.ok(r.cpuPercent !== null && r.cpuPercent > 1, `cpu ${r.cpuPercent}`);
  assert.ok(r.rssBytes !== null && r.rssBytes > 5 * 1024 * 1024, `rss ${r.rssBytes}`);
  assert.ok(r.uptimeSec !== null && r.uptimeSec >= 0 && r.uptimeSec < 60);
  const s = await statfs(os.tmpdir());
  assert.ok(r.diskFreeBytes !== null && Math.abs(r.diskFreeBytes - s.bavail * s.bsize) < 512 * 1024 * 1024);
});

test('no process: process figures are null, disk is still measured; a missing save folder measures its parent', async () => {
  const r = await sampleResources({ pid: null, startedAt: null, savePath: path.join(os.tmpdir(), 'not', 'yet', 'created') });
  assert.equal(r.cpuPercent, null);
  assert.equal(r.rssBytes, null);
  assert.equal(r.uptimeSec, null);
  assert.ok(r.diskFreeBytes !== null && r.diskFreeBytes > 0);
  assert.ok(await freeBytesOf(path.join(os.tmpdir(), 'not', 'yet')) > 0);
});

test('a dead pid gives nulls, not an error', async () => {
  const child = spawn(process.execPath, ['-e', '0']);
  await once(child, 'exit');
  const r = await sampleResources({ pid: child.pid!, startedAt: null, savePath: null });
  assert.deepEqual(r, { cpuPercent: null, rssBytes: null, diskFreeBytes: null, uptimeSec: null });
});

test('each failing source only nulls its own figures; uptime falls back to the supervisor start time', async () => {
  const deps: ResourceDeps = {
    usage: async () => { throw new Error('wmic is gone'); },
    freeBytes: async () => 12_345,
    now: () => 100_000,
  };
  assert.deepEqual(await sampleResources({ pid: 42, startedAt: 40_000, savePath: 'C:\\saves' }, deps), {
    cpuPercent: null, rssBytes: null, diskFreeBytes: 12_345, uptimeSec: 60,
  });
  const deps2: ResourceDeps = {
    usage: async () => ({ cpuPercent: 123.456, rssBytes: 2048, elapsedMs: 90_500 }),
    freeBytes: async () => { throw new Error('EACCES'); },
    now: () => 0,
  };
  assert.deepEqual(await sampleResources({ pid: 42, startedAt: 0, savePath: '/x' }, deps2), {
    cpuPercent: 123.5, rssBytes: 2048, diskFreeBytes: null, uptimeSec: 90,
  });
});
