import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MONO_LIB = '/usr/lib/mono/4.5';

function run(file: string, args: string[], env: Record<string, string> = { PATH: process.env.PATH ?? '' }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

interface Want { kind: 'cmd' | 'file'; what: string; pkg: string }

async function wants(): Promise<{ script: string; wants: Want[] }> {
  const script = await readFile(path.join(repo, '.ci/run'), 'utf8');
  const found = [...script.matchAll(/^want_(cmd|file) (\S+) (.*)$/gm)].map((m) => ({ kind: m[1] as 'cmd' | 'file', what: m[2]!, pkg: m[3]!.trim() }));
  return { script, wants: found };
}

/** The part of .ci/run that decides what to install, ending by printing the packages. */
function decisionPart(script: string): string {
  const start = script.indexOf('need_apt=()');
  const end = script.indexOf('if [ "${#need_apt[@]}" -gt 0 ]');
  assert.ok(start >= 0 && end > start, '.ci/run collects packages in need_apt before installing them');
  return `${script.slice(start, end)}\nprintf '%s\\n' "\${need_apt[@]}"\n`;
}

test('.ci/run installs a package whose file is missing even when another package of the same tool is there (mcs without System.Xml)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-ci-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  const lib = path.join(dir, 'mono-lib');
  await mkdir(bin);
  await mkdir(lib);
  // Every command is present, as on a machine with mono-mcs; none of the libraries.
  for (const cmd of ['rclone', 'zstd', 'restic', 'openssl', 'systemd-analyze', 'shellcheck', 'mcs', 'mono']) {
    await writeFile(path.join(bin, cmd), '#!/bin/sh\n');
    await chmod(path.join(bin, cmd), 0o755);
  }
  const { script } = await wants();
  const part = decisionPart(script).replaceAll(MONO_LIB, lib);
  const r = await run('/bin/bash', ['-c', part], { PATH: bin });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter(Boolean), ['libmono-system-xml4.0-cil']);
});

test('.ci/run checks each package by one of its own files, and covers every library the Windows wrapper test compiles against', async () => {
  const { script, wants: all } = await wants();
  assert.ok(all.length >= 9);
  for (const w of all) assert.match(w.pkg, /^[a-z0-9.+-]+$/, `one package per line: "${w.pkg}"`);
  assert.equal(new Set(all.map((w) => w.pkg)).size, all.length, 'each package once');
  assert.doesNotMatch(decisionPart(script).replace(/^want_.*$/gm, ''), /need_apt\+=\([^)]*\s[^)]*\)/, 'no check adds several packages at once');

  // The -r: libraries of the mono compile in windows-service.test.ts.
  const winTest = await readFile(path.join(repo, 'test/deploy/windows-service.test.ts'), 'utf8');
  const refs = [...winTest.matchAll(/'-r:([\w.]+\.dll)'/g)].map((m) => m[1]!);
  assert.ok(refs.length > 0, 'the wrapper test names the libraries it compiles against');
  for (const dll of refs) assert.ok(all.some((w) => w.kind === 'file' && w.what === `${MONO_LIB}/${dll}`), `.ci/run installs ${dll}`);

  // Where the file is here and dpkg knows it, the package named is the one that owns it.
  if (!existsSync('/usr/bin/dpkg')) return;
  for (const w of all) {
    let file = w.what;
    if (w.kind === 'cmd') {
      const found = await run('/bin/sh', ['-c', `command -v ${w.what}`]);
      if (found.code !== 0) continue;
      file = found.stdout.trim();
    }
    if (!existsSync(file)) continue;
    const owners = await Promise.all([file, realpathSync(file)].map((f) => run('/usr/bin/dpkg', ['-S', f])));
    const hit = owners.find((o) => o.code === 0);
    if (!hit) continue; // not installed from a package here (e.g. a hand-installed binary)
    const pkgs = hit.stdout.split(':')[0]!.split(',').map((p) => p.trim());
    assert.ok(pkgs.includes(w.pkg), `${file} belongs to ${pkgs.join(', ')}, .ci/run says ${w.pkg}`);
  }
});

test('.ci/run passes shellcheck', { skip: existsSync('/usr/bin/shellcheck') ? false : 'shellcheck is not installed' }, async () => {
  const r = await run('/usr/bin/shellcheck', [path.join(repo, '.ci/run')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});
