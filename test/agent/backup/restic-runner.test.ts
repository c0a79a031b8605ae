import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { ResticRepo } from '../../../agent/backup/restic-runner.ts';
import { tempDir } from './helpers.ts';

// The restic runner against the real binary: the password only in the environment, clear errors, and stale-lock handling that leaves live locks alone.

const PASSWORD = 'runner-secret-Zq81';

test('the password reaches restic only through its environment: never its argv; a wrong one is a clear error without it', async (t) => {
  const dir = await tempDir(t, 'reconsync-restic-');
  const log = path.join(dir, 'argv.log');
  // A wrapper in front of the real restic records every command line and whether the variable was set.
  const wrapper = path.join(dir, 'restic-wrapper.sh');
  await fs.writeFile(wrapper, `#!/bin/sh\nprintf '%s|env=%s\\n' "$*" "\${RESTIC_PASSWORD:+set}" >> '${log}'\nexec restic "$@"\n`, { mode: 0o755 });
  const repo = new ResticRepo(path.join(dir, 'repo'), PASSWORD, { binary: wrapper });
  await repo.prepare();
  await repo.run(['snapshots', '--json']);
  const lines = (await fs.readFile(log, 'utf8')).trim().split('\n');
  assert.ok(lines.some((l) => l.startsWith('init --repository-version 2')), lines.join('\n'));
  for (const l of lines) {
    assert.ok(!l.includes(PASSWORD), `argv without the password: ${l}`);
    assert.ok(!l.includes(path.join(dir, 'repo')), `argv without the repository: ${l}`);
    assert.match(l, /\|env=set$/);
  }
  // Created once: a second prepare does not init again.
  await new ResticRepo(path.join(dir, 'repo'), PASSWORD, { binary: wrapper }).prepare();
  assert.equal((await fs.readFile(log, 'utf8')).split('\n').filter((l) => l.startsWith('init')).length, 1);

  const wrong = new ResticRepo(path.join(dir, 'repo'), 'not-the-password', { binary: wrapper });
  await assert.rejects(wrong.run(['snapshots']), (err: Error) => {
    assert.match(err.message, /restic snapshots on .* failed .*password is wrong/);
    assert.ok(!err.message.includes('not-the-password'));
    return true;
  });
  const missing = new ResticRepo(path.join(dir, 'repo'), PASSWORD, { binary: path.join(dir, 'no-restic') });
  await assert.rejects(missing.prepare(), /restic not found at ".*no-restic"; install restic/);
});

test('a lock of a live restic is left alone; the same lock after its process is killed is removed', async (t) => {
  const dir = await tempDir(t, 'reconsync-restic-');
  const repoDir = path.join(dir, 'repo');
  const repo = new ResticRepo(repoDir, PASSWORD);
  await repo.prepare();
  const env = { ...process.env, RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: repoDir };
  // A backup reading stdin that never ends holds its lock for as long as we like.
  const holder = spawn('restic', ['backup', '--stdin', '--stdin-filename', 'x'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  t.after(() => holder.kill('SIGKILL'));
  holder.stdin.write('some bytes');
  const locks = async () => (await execa('restic', ['list', 'locks', '--no-lock'], { env })).stdout.split('\n').filter(Boolean);
  const deadline = Date.now() + 30_000;
  while ((await locks()).length === 0) assert.ok(Date.now() < deadline, 'restic took its lock');

  assert.equal(await repo.removeStaleLocks(), 0);
  assert.equal((await locks()).length, 1, 'the live lock stays');

  holder.kill('SIGKILL');
  await new Promise((resolve) => holder.once('exit', resolve));
  assert.equal((await locks()).length, 1, 'a killed restic leaves its lock');
  assert.equal(await repo.removeStaleLocks(), 1);
  assert.deepEqual(await locks(), []);
});
