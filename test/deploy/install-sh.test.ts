import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import { loadAgentConfig } from '../../agent/config.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(repo, 'deploy', 'install.sh');
const shellcheck = ['/usr/bin/shellcheck', '/usr/local/bin/shellcheck', '/bin/shellcheck'].find((p) => existsSync(p));

function sh(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/bin/sh', [script, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A minimal agent bundle: what install.sh needs (reconsync.js, launcher, the unit). */
async function fakeBundle(dir: string, version: string, chunks: string[] = []): Promise<string> {
  const folder = `reconsync-agent-${version}`;
  const root = path.join(dir, `src-${version}`, folder);
  await mkdir(path.join(root, 'deploy'), { recursive: true });
  if (chunks.length) {
    await mkdir(path.join(root, 'lib'), { recursive: true });
    for (const c of chunks) await writeFile(path.join(root, 'lib', c), `// ${version} ${c}\n`);
    await writeFile(path.join(root, 'lib', 'chunks.txt'), chunks.map((c) => `${c}\n`).join(''));
  }
  await writeFile(path.join(root, 'reconsync.js'), `console.log(${JSON.stringify(version)});\n`);
  await writeFile(path.join(root, 'reconsync'), '#!/bin/sh\nexec node "$(dirname "$0")/reconsync.js" "$@"\n', { mode: 0o644 });
  await cp(path.join(repo, 'deploy', 'systemd'), path.join(root, 'deploy', 'systemd'), { recursive: true });
  const file = path.join(dir, `${folder}.tar.gz`);
  await tar.c({ gzip: true, file, cwd: path.dirname(root), portable: true }, [folder]);
  return file;
}

test('install.sh passes shellcheck', { skip: shellcheck ? false : 'shellcheck is not installed (apt-get install shellcheck)' }, async () => {
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(shellcheck!, ['-s', 'sh', script], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }));
  });
  assert.deepEqual(r, { code: 0, out: '' });
});

test('install.sh installs, upgrades keeping the config, and uninstalls (staged with DESTDIR)', async (t) => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'reconsync-installsh-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const dest = path.join(work, 'root');
  const env = { DESTDIR: dest };
  const v1 = await fakeBundle(work, '1.0.0');
  const v2 = await fakeBundle(work, '1.1.0');

  const first = await sh([v1], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Installed the program in \/opt\/reconsync \(1\.0\.0\)/);
  const prog = path.join(dest, 'opt/reconsync');
  assert.equal((await readFile(path.join(prog, 'reconsync.js'), 'utf8')).includes('1.0.0'), true);
  assert.equal((await stat(path.join(prog, 'reconsync'))).mode & 0o777, 0o755);
  assert.equal(await readlink(path.join(dest, 'usr/local/bin/reconsync')), '/opt/reconsync/reconsync');
  const conf = path.join(dest, 'etc/reconsync');
  assert.equal((await stat(conf)).mode & 0o777, 0o750);
  assert.equal((await stat(path.join(conf, 'agent.yaml'))).mode & 0o777, 0o640);
  assert.equal((await stat(path.join(conf, 'agent.env'))).mode & 0o777, 0o640);
  const unit = await readFile(path.join(dest, 'etc/systemd/system/reconsync-agent.service'), 'utf8');
  assert.equal(unit, await readFile(path.join(repo, 'deploy/systemd/reconsync-agent.service'), 'utf8'));
  // The host-shutdown hook that saves and stops the games (stopping the agent leaves them running).
  const hook = await readFile(path.join(dest, 'etc/systemd/system/reconsync-agent-shutdown.service'), 'utf8');
  assert.equal(hook, await readFile(path.join(repo, 'deploy/systemd/reconsync-agent-shutdown.service'), 'utf8'));
  assert.ok((await stat(path.join(dest, 'var/lib/reconsync/agent'))).isDirectory());

  // The starter config is valid once the two variables of agent.env are set.
  const starter = loadAgentConfig(path.join(conf, 'agent.yaml'), { env: { RECONSYNC_HUB_URL: 'ws://127.0.0.1:7780/agent', RECONSYNC_AGENT_TOKEN: 'a'.repeat(32) } });
  assert.equal(starter.dataDir, '/var/lib/reconsync/agent');
  assert.deepEqual(starter.servers, []);

  // Upgrade: new program, the operator's config untouched, no leftovers.
  await writeFile(path.join(conf, 'agent.yaml'), 'edited by the operator\n');
  const second = await sh([v2], env);
  assert.equal(second.code, 0, second.stderr);
  assert.equal((await readFile(path.join(prog, 'reconsync.js'), 'utf8')).includes('1.1.0'), true);
  assert.equal(await readFile(path.join(conf, 'agent.yaml'), 'utf8'), 'edited by the operator\n');
  await assert.rejects(access(`${prog}.new`));
  await assert.rejects(access(`${prog}.old`));

  const un = await sh(['--uninstall'], env);
  assert.equal(un.code, 0, un.stderr);
  await assert.rejects(access(prog));
  await assert.rejects(access(path.join(dest, 'etc/systemd/system/reconsync-agent.service')));
  await assert.rejects(access(path.join(dest, 'etc/systemd/system/reconsync-agent-shutdown.service')));
  await assert.rejects(lstat(path.join(dest, 'usr/local/bin/reconsync')));
  assert.equal(await readFile(path.join(conf, 'agent.yaml'), 'utf8'), 'edited by the operator\n');

  const purge = await sh(['--uninstall', '--purge'], env);
  assert.equal(purge.code, 0, purge.stderr);
  await assert.rejects(access(conf));
  await assert.rejects(access(path.join(dest, 'var/lib/reconsync')));
});

test('an upgrade keeps the previous version\'s code chunks (one generation) for an agent still running on them', async (t) => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'reconsync-installsh-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const dest = path.join(work, 'root');
  const env = { DESTDIR: dest };
  const lib = path.join(dest, 'opt/reconsync/lib');
  const listed = async () => (await readdir(lib)).filter((f) => f.startsWith('chunk-')).sort();
  assert.equal((await sh([await fakeBundle(work, '1.0.0', ['chunk-AAA.js', 'chunk-SHARED.js'])], env)).code, 0);
  assert.equal((await sh([await fakeBundle(work, '1.1.0', ['chunk-BBB.js', 'chunk-SHARED.js'])], env)).code, 0);
  // The running 1.0.0 agent still finds chunk-AAA.js; a chunk both versions have is the new one's.
  assert.deepEqual(await listed(), ['chunk-AAA.js', 'chunk-BBB.js', 'chunk-SHARED.js']);
  assert.equal(await readFile(path.join(lib, 'chunk-AAA.js'), 'utf8'), '// 1.0.0 chunk-AAA.js\n');
  assert.equal(await readFile(path.join(lib, 'chunk-SHARED.js'), 'utf8'), '// 1.1.0 chunk-SHARED.js\n');
  assert.equal(await readFile(path.join(lib, 'chunks.txt'), 'utf8'), 'chunk-BBB.js\nchunk-SHARED.js\n', 'the list names only the new version\'s own');
  assert.equal((await sh([await fakeBundle(work, '1.2.0', ['chunk-CCC.js'])], env)).code, 0);
  assert.deepEqual(await listed(), ['chunk-BBB.js', 'chunk-CCC.js', 'chunk-SHARED.js'], 'one generation: 1.0.0\'s chunk is gone');
});

test('install.sh follows --prefix in the unit and refuses what is not a bundle', async (t) => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'reconsync-installsh-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const dest = path.join(work, 'root');
  const r = await sh(['--prefix', '/srv/rs', await fakeBundle(work, '2.0.0')], { DESTDIR: dest });
  assert.equal(r.code, 0, r.stderr);
  const unit = await readFile(path.join(dest, 'etc/systemd/system/reconsync-agent.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/bin\/env node \/srv\/rs\/reconsync.js agent --config \/etc\/reconsync\/agent.yaml$/m);
  const hook = await readFile(path.join(dest, 'etc/systemd/system/reconsync-agent-shutdown.service'), 'utf8');
  assert.match(hook, /^ExecStop=\/usr\/bin\/env node \/srv\/rs\/reconsync.js agent stop-games --config \/etc\/reconsync\/agent.yaml$/m);

  const notBundle = path.join(work, 'junk.tar.gz');
  await mkdir(path.join(work, 'junk'));
  await writeFile(path.join(work, 'junk', 'x.txt'), 'x');
  await tar.c({ gzip: true, file: notBundle, cwd: work }, ['junk']);
  const bad = await sh([notBundle], { DESTDIR: path.join(work, 'root2') });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /not a ReconSync agent bundle/);

  const relative = await sh(['--prefix', 'opt/x'], { DESTDIR: dest });
  assert.equal(relative.code, 1);
  assert.match(relative.stderr, /--prefix must be an absolute path/);
});
