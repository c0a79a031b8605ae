import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DefaultRenameRetry, renameRetrying } from '../../../agent/backup/rename-retry.ts';

const errno = (code: string) => Object.assign(new Error(`${code}: operation not permitted, rename`), { code });

// Windows' "file in use" cannot be produced on Linux: the rename is the real one, preceded by
// the failures an antivirus scan or the indexer give there.
test('a rename refused while something holds the folder is retried with a growing pause, then done for real', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'reconsync-rename-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(path.join(dir, 'worlds_local'));
  await fs.writeFile(path.join(dir, 'worlds_local', 'Dedicated.db'), 'world');
  const failures = ['EPERM', 'EBUSY'];
  const slept: number[] = [];
  await renameRetrying(path.join(dir, 'worlds_local'), path.join(dir, '.worlds_local.old'), {
    rename: async (a, b) => {
      const code = failures.shift();
      if (code) throw errno(code);
      await fs.rename(a, b);
    },
    sleep: async (ms) => { slept.push(ms); },
  });
  assert.deepEqual(slept, [50, 100]);
  assert.equal(await fs.readFile(path.join(dir, '.worlds_local.old', 'Dedicated.db'), 'utf8'), 'world');
});

test('the retries are bounded and other errors are not retried', async () => {
  const slept: number[] = [];
  const sleep = async (ms: number) => { slept.push(ms); };
  let tries = 0;
  await assert.rejects(renameRetrying('a', 'b', { rename: async () => { tries++; throw errno('EBUSY'); }, sleep }), { code: 'EBUSY' });
  assert.equal(tries, DefaultRenameRetry.delaysMs.length + 1);
  assert.deepEqual(slept, [...DefaultRenameRetry.delaysMs]);
  slept.length = 0;
  await assert.rejects(renameRetrying('/nonexistent-reconsync/a', '/nonexistent-reconsync/b', { sleep }), { code: 'ENOENT' });
  assert.deepEqual(slept, []);
});
