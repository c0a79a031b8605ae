import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resourceSamplerWarning } from '../../../agent/monitors/resources.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A folder whose only program is node: no getconf, as in a slim image or a bare service PATH. */
async function onlyNodePath(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-getconf-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  await symlink(process.execPath, path.join(bin, 'node'));
  return bin;
}

test('without getconf on PATH, sampling a real process prints nothing to stderr and still measures it', { skip: process.platform !== 'linux' ? 'pidusage reads /proc on Linux only' : false }, async (t) => {
  const bin = await onlyNodePath(t);
  const module = pathToFileURL(path.join(repo, 'agent/monitors/resources.ts')).href;
  const script = `
    const { sampleResources } = await import(${JSON.stringify(module)});
    const target = { pid: process.pid, startedAt: null, savePath: null };
    await sampleResources(target);
    process.stdout.write(JSON.stringify(await sampleResources(target)));
  `;
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, env: { PATH: bin }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'no raw getconf errors or stack traces');
  const sample = JSON.parse(r.stdout) as { rssBytes: number | null; uptimeSec: number | null };
  assert.ok(sample.rssBytes !== null && sample.rssBytes > 1024 * 1024, `rss ${sample.rssBytes}`);
  assert.ok(sample.uptimeSec !== null && sample.uptimeSec >= 0);
});

test('resourceSamplerWarning: one clear sentence when getconf is missing on Linux, nothing otherwise', async (t) => {
  const bin = await onlyNodePath(t);
  const warning = resourceSamplerWarning({ PATH: bin }, 'linux');
  assert.match(warning ?? '', /^getconf is not on PATH: .*install libc-bin or put \/usr\/bin on the agent's PATH/);
  assert.doesNotMatch(warning ?? '', /\n/, 'one line');
  assert.equal(resourceSamplerWarning({}, 'linux'), warning, 'no PATH at all is the same case');
  assert.equal(resourceSamplerWarning({ PATH: bin }, 'win32'), null, 'Windows does not use getconf');
  const getconfDir = ['/usr/bin', '/bin'].find((d) => existsSync(path.join(d, 'getconf')));
  if (getconfDir) assert.equal(resourceSamplerWarning({ PATH: `${bin}:${getconfDir}` }, 'linux'), null);
});
