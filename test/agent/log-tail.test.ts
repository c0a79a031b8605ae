import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LogTailLimits, readLogTail } from '../../agent/log-tail.ts';

test('log tail: last N lines, bounded read, long lines cut, secrets redacted, missing log empty', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-tail-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'g.log');
  assert.deepEqual(await readLogTail(file, 10, []), { lines: [], truncated: false });

  await writeFile(file, 'one\r\ntwo rcon pw is s3cret-value\nServerAdminPassword=hunter2 joined\nfour\n');
  const small = await readLogTail(file, 3, ['s3cret-value']);
  assert.deepEqual(small.lines, ['two rcon pw is [redacted]', 'ServerAdminPassword=[redacted] joined', 'four']);
  assert.equal(small.truncated, true);
  assert.equal((await readLogTail(file, 10, [])).truncated, false);

  const big = `${'x'.repeat(LogTailLimits.maxBytes)}\n${'y'.repeat(5000)}\nlast\n`;
  await writeFile(file, big);
  const tail = await readLogTail(file, 1000, []);
  assert.deepEqual(tail.lines.map((l) => l.length), [LogTailLimits.maxLineChars + 1, 4], 'the partial first line is dropped, the long one cut');
  assert.equal(tail.truncated, true);
  assert.equal((await readLogTail(file, 5000, [])).lines.length, 2, 'lines is capped, not refused');
});
