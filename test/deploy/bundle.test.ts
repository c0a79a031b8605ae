import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import * as tar from 'tar';
import type { Metafile } from 'esbuild';
import { assertNotReachable, buildAgentBundle } from '../../tools/bundle.ts';
import { HUB_ONLY_MESSAGE, hubOnlyModules } from '../../tools/bundle-lazy.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtureEntry = path.join(repo, 'test/deploy/fixtures/bundle-entry.ts');
const secrets = { RECONSYNC_AGENT_TOKEN: 'agent-token-0123456789abcdef', ARK_ADMIN_PASSWORD: 'ark-secret' };

interface Run { code: number; stdout: string; stderr: string }

/** Runs in the unpacked folder with a bare environment: only Node, nothing from this repo. */
function runIn(cwd: string, file: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: 30_000, env: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: cwd, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/**
 * The example agent.yaml on a machine set up as the README says: its rclone config
 * (defining the `b2` remote it names) and its data folder exist. `config check` runs
 * every check the agent runs at start, so the untouched example fails on a machine
 * without /etc/reconsync/rclone.conf, as it should.
 */
async function exampleSetUpIn(root: string): Promise<string> {
  const text = (await readFile(path.join(root, 'deploy/examples/agent.yaml'), 'utf8'))
    .replace('/etc/reconsync/rclone.conf', path.join(root, 'rclone.conf'))
    .replace('/var/lib/reconsync/agent', path.join(root, 'agent-data'));
  await writeFile(path.join(root, 'rclone.conf'), '[b2]\ntype = local\n');
  await writeFile(path.join(root, 'agent.yaml'), text);
  return 'agent.yaml';
}

async function unpackTar(tarball: string, t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-unpacked-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await tar.x({ file: tarball, cwd: dir });
  return dir;
}

async function outDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-dist-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the bundle (small entry) runs from an empty folder with only Node: version, config check, zstd workers, pino transport', async (t) => {
  const r = await buildAgentBundle({ entry: fixtureEntry, outDir: await outDir(t), version: '9.8.7-test' });
  assert.equal(r.folder, 'reconsync-agent-9.8.7-test');
  assert.equal(path.basename(r.tarball), 'reconsync-agent-9.8.7-test.tar.gz');
  assert.equal(path.basename(r.zip), 'reconsync-agent-9.8.7-test.zip');
  for (const f of ['reconsync.js', 'package.json', 'reconsync', 'reconsync.exe', 'deploy/windows/launcher/ReconSyncCli.cs', 'README.md', 'THIRD-PARTY-NOTICES.txt', 'zstd.wasm', 'zstd-wasm.cjs',
    'thread-stream-worker.cjs', 'pino-pretty.cjs', 'games/valheim.yaml', 'games/ark.yaml', 'deploy/install.sh', 'deploy/systemd/reconsync-agent.service',
    'deploy/systemd/reconsync-agent-shutdown.service',
    'deploy/systemd/agent-paths.conf.example', 'deploy/windows/install-agent.ps1', 'deploy/windows/ReconSyncService.cs', 'deploy/examples/agent.yaml']) {
    assert.ok(r.files.includes(f), `bundle lacks ${f}`);
  }
  assert.deepEqual(r.files.filter((f) => f.endsWith('.ts') || /Dockerfile|compose\.yaml/.test(f)), []);
  // No batch launcher: cmd.exe parses a .cmd's arguments a second time (& ^ | % ! and quotes break, `a&calc` runs calc).
  assert.deepEqual(r.files.filter((f) => /\.(cmd|bat)$/i.test(f)), []);
  // Nothing of the hub, which the bundle cannot run: no unit, no example hub.yaml, no image config.
  assert.deepEqual(r.files.filter((f) => /hub/i.test(f)), []);
  // The entry and its chunks (esbuild splitting: a command reads only the modules it imports); helpers are .cjs.
  assert.deepEqual(r.files.filter((f) => f.endsWith('.js') && f !== 'reconsync.js' && !/^lib\/[\w-]+\.js$/.test(f)), []);
  assert.ok(r.files.some((f) => f.startsWith('lib/')), 'the modules are in lib/ chunks');

  const root = path.join(await unpackTar(r.tarball, t), r.folder);
  assert.equal(existsSync(path.join(root, 'node_modules')), false);
  // lib/chunks.txt names exactly the hashed chunks (install.sh carries them for an agent running across an upgrade).
  const chunks = r.files.filter((f) => /^lib\/chunk-/.test(f)).map((f) => f.slice('lib/'.length)).sort();
  assert.ok(chunks.length > 0);
  assert.equal(await readFile(path.join(root, 'lib', 'chunks.txt'), 'utf8'), chunks.map((c) => `${c}\n`).join(''));

  assert.deepEqual(await runIn(root, process.execPath, ['reconsync.js', '--version']), { code: 0, stdout: '9.8.7-test\n', stderr: '' });
  assert.equal((await stat(path.join(root, 'reconsync'))).mode & 0o111, 0o111, 'launcher is executable');
  assert.equal((await runIn(root, path.join(root, 'reconsync'), ['--version'])).stdout, '9.8.7-test\n');
  // The launcher follows a symlink (install.sh links it into /usr/local/bin).
  await symlink(path.join(root, 'reconsync'), path.join(path.dirname(root), 'rs-link'));
  assert.equal((await runIn(os.tmpdir(), path.join(path.dirname(root), 'rs-link'), ['--version'])).stdout, '9.8.7-test\n');
  // A PATH holding only node (no dirname, readlink, ...), from other folders, by relative and absolute path and by symlink.
  const onlyNode = path.join(path.dirname(root), 'only-node');
  await mkdir(onlyNode);
  await symlink(process.execPath, path.join(onlyNode, 'node'));
  const bare = { PATH: onlyNode };
  for (const [cwd, file] of [[os.tmpdir(), path.join(root, 'reconsync')], [path.dirname(root), `./${r.folder}/reconsync`], [onlyNode, `../${r.folder}/reconsync`], [root, './reconsync'], [os.tmpdir(), path.join(path.dirname(root), 'rs-link')]] as const) {
    assert.deepEqual(await runIn(cwd, file, ['--version'], bare), { code: 0, stdout: '9.8.7-test\n', stderr: '' }, `${file} from ${cwd}`);
  }

  const check = await runIn(root, process.execPath, ['reconsync.js', 'config', 'check', await exampleSetUpIn(root)], secrets);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /^ok: agent config .*agent\.yaml: agent eu-box-1, 2 server\(s\): valheim-main \(valheim, watch only\), ark-island \(ark, managed\)\n$/);
  const bad = await runIn(root, process.execPath, ['reconsync.js', 'config', 'check', 'deploy/examples/agent.yaml'], {});
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /RECONSYNC_AGENT_TOKEN is not set/);

  const zstd = await runIn(root, process.execPath, ['reconsync.js', 'zstd']);
  assert.equal(zstd.code, 0, zstd.stderr);
  assert.match(zstd.stdout, /^zstd 100000 -> \d+ roundtrip ok, streamed ok\n$/);
  // The zstd CLI writes a content checksum (our WASM writer does not): checking it loads xxhash-wasm's lazy chunk.
  await writeFile(path.join(root, 'data.bin'), Buffer.from('reconsync checksum '.repeat(20_000)));
  assert.equal((await runIn(root, '/usr/bin/zstd', ['-q', '-1', '--check', 'data.bin', '-o', 'data.bin.zst'])).code, 0);
  const checked = await runIn(root, process.execPath, ['reconsync.js', 'zstd-check', 'data.bin.zst', 'data.bin']);
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(checked.stdout, 'checked ok, forged: corrupt zstd stream (content checksum mismatch)\n');

  const pretty = await runIn(root, process.execPath, ['reconsync.js', 'pretty']);
  assert.equal(pretty.code, 0, pretty.stderr);
  assert.match(pretty.stdout, /pretty hello/);

  const sqlite = await runIn(root, process.execPath, ['reconsync.js', 'sqlite']);
  assert.equal(sqlite.code, 1);
  assert.match(sqlite.stderr, /better-sqlite3 is not part of the agent bundle/);

  // The zip holds the same files, and keeps the launcher's executable bit for unzip.
  const zip = unzipSync(new Uint8Array(await readFile(r.zip)));
  assert.deepEqual(Object.keys(zip).map((k) => k.slice(r.folder.length + 1)).sort(), [...r.files].sort());
  assert.deepEqual(Buffer.from(zip[`${r.folder}/reconsync.js`]!), await readFile(path.join(root, 'reconsync.js')));
  // reconsync.exe is a .NET assembly (a PE file); under mono it runs reconsync.js beside it with NODE.
  assert.equal(Buffer.from(zip[`${r.folder}/reconsync.exe`]!.subarray(0, 2)).toString('latin1'), 'MZ');
  const mono = ['/usr/bin/mono', '/usr/local/bin/mono'].find((p) => existsSync(p));
  if (mono) assert.deepEqual(await runIn(os.tmpdir(), mono, [path.join(root, 'reconsync.exe'), '--version'], { NODE: process.execPath }), { code: 0, stdout: '9.8.7-test\n', stderr: '' });
});

test('the bundle of cli/main.ts runs --version, games and config check with only Node', async (t) => {
  let r;
  try {
    r = await buildAgentBundle({ outDir: await outDir(t), version: '9.8.7-cli' });
  } catch (err) {
    // Until every module cli/main.ts imports exists, esbuild cannot resolve them; the small-entry test above covers the mechanics.
    const missing = ((err as { errors?: { text: string }[] }).errors ?? []).map((e) => /Could not resolve "(\.[^"]+)"/.exec(e.text)?.[1]);
    if (missing.length && missing.every(Boolean)) {
      t.skip(`cli/main.ts imports modules that do not exist yet: ${missing.join(', ')}`);
      return;
    }
    throw err;
  }
  const root = path.join(await unpackTar(r.tarball, t), r.folder);
  assert.deepEqual(await runIn(root, process.execPath, ['reconsync.js', '--version']), { code: 0, stdout: '9.8.7-cli\n', stderr: '' });
  const games = await runIn(root, process.execPath, ['reconsync.js', 'games']);
  assert.equal(games.code, 0, games.stderr);
  assert.match(games.stdout, /^valheim\s+Valheim/m);
  const check = await runIn(root, process.execPath, ['reconsync.js', 'config', 'check', await exampleSetUpIn(root)], secrets);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /^ok: agent config .*2 server\(s\)/);
  const invalid = await runIn(root, process.execPath, ['reconsync.js', 'config', 'check', 'deploy/examples/agent.yaml'], {});
  assert.equal(invalid.code, 3, invalid.stderr);

  // The hub, its store commands and the demo are not in the bundle: each says at once where they run from.
  for (const args of [['hub', '--config', 'hub.yaml'], ['token', 'list', '--config', 'hub.yaml'], ['server', 'forget', 'x', '--config', 'hub.yaml'], ['agent', 'forget', 'x', '--config', 'hub.yaml'], ['demo']]) {
    const hubOnly = await runIn(root, process.execPath, ['reconsync.js', ...args]);
    assert.equal(hubOnly.code, 1, args.join(' '));
    assert.equal(hubOnly.stderr, `error: ${HUB_ONLY_MESSAGE}\n`, args.join(' '));
  }
  const js = (await Promise.all(r.files.filter((f) => f.endsWith('.js')).map((f) => readFile(path.join(root, f), 'utf8')))).join('\n');
  // esbuild marks each bundled module with a "// <path>" line: of the hub only its config schema (for config check) is in.
  // (in a split bundle a module's marker can appear twice: once above its hoisted node: imports)
  const hubModules = [...new Set([...js.matchAll(/^\/\/ ((?:hub|demo)\/\S+|node_modules\/(?:discord\.js|@discordjs|better-sqlite3|prom-client)\/\S+)$/gm)].map((m) => m[1]))];
  assert.deepEqual(hubModules, ['hub/config.ts']);
  assert.ok(!js.includes('CREATE TABLE'), 'no store migrations');
  // zod's translations are left out (an idle agent held ~400 KB of them); its English messages stay.
  assert.deepEqual([...new Set([...js.matchAll(/^\/\/ node_modules\/zod\/v4\/locales\/(\S+)$/gm)].map((m) => m[1]))], ['en.js']);
  assert.deepEqual(r.files.filter((f) => /hub/i.test(f)), []);
});

test('each hub-only stub exports what its real module exports', async () => {
  for (const [rel, names] of Object.entries(hubOnlyModules)) {
    // Runtime exports only (types are erased): exactly what code can import from the stub.
    const real = Object.keys(await import(path.join(repo, rel)) as Record<string, unknown>);
    assert.deepEqual([...names].sort(), real.sort(), rel);
  }
});

test('assertNotReachable follows static imports from the agent and ignores dynamic ones', () => {
  const meta = (imports: Record<string, { path: string; kind: string; original?: string }[]>): Metafile => ({
    inputs: Object.fromEntries(Object.entries(imports).map(([k, v]) => [k, { bytes: 1, imports: v }])) as Metafile['inputs'],
    outputs: {},
  });
  const lazy = meta({
    'agent/main.ts': [{ path: 'agent/link.ts', kind: 'import-statement' }, { path: 'hub/store.ts', kind: 'dynamic-import' }],
    'agent/link.ts': [],
    'hub/store.ts': [{ path: 'reconsync-lazy:better-sqlite3', kind: 'import-statement', original: 'better-sqlite3' }],
  });
  assert.doesNotThrow(() => assertNotReachable(lazy, ['agent/main.ts'], ['better-sqlite3']));
  const leaky = meta({
    'agent/main.ts': [{ path: 'agent/backup.ts', kind: 'import-statement' }],
    'agent/backup.ts': [{ path: 'hub/store.ts', kind: 'import-statement' }],
    'hub/store.ts': [{ path: 'reconsync-lazy:better-sqlite3', kind: 'import-statement', original: 'better-sqlite3' }],
  });
  assert.throws(() => assertNotReachable(leaky, ['agent/main.ts'], ['better-sqlite3']), /agent\/main\.ts -> agent\/backup\.ts -> hub\/store\.ts -> reconsync-lazy:better-sqlite3/);
});
