import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { sha256File } from '../../../agent/backup/fs-util.ts';
import { LocalDestination } from '../../../agent/backup/local.ts';
import { ManifestSchema, writeManifest, type Manifest } from '../../../agent/backup/manifest.ts';
import { joinRemote, RcloneDestination, redactSecrets } from '../../../agent/backup/rclone.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { rcloneConfig, tempDir } from './helpers.ts';

const RCLONE = '/usr/bin/rclone';

async function fixture(dir: string, id: string, createdAt: string, content = `archive ${id}`): Promise<{ archive: string; manifest: Manifest }> {
  const src = path.join(dir, 'src');
  await fs.mkdir(src, { recursive: true });
  const archive = path.join(src, `${id}.tar.zst`);
  await fs.writeFile(archive, content);
  const { sha256, size } = await sha256File(archive);
  const manifest = ManifestSchema.parse({
    manifestVersion: 1, id, serverId: 'srv1', game: 'ark', createdAt, trigger: 'manual', roots: { SavedArks: { path: '/srv/ark/SavedArks', kind: 'dir' } },
    files: [{ path: 'SavedArks/TheIsland.ark', size: 10, mtime: createdAt }], archive: { sha256, size, format: 'tar.zst', unpackedSize: 10 }, toolVersion: '0.1.0', locked: false,
  });
  return { archive, manifest };
}

for (const kind of ['alias', ':local:', 'plain path'] as const) {
  test(`rclone (${kind}): put, verify, list, get, remove with the real binary`, async (t) => {
    const dir = await tempDir(t);
    const vault = path.join(dir, 'vault');
    const config = await rcloneConfig(dir, vault);
    const target = kind === 'alias' ? 'vault:ark' : kind === ':local:' ? `:local:${vault}/ark` : path.join(vault, 'ark');
    const dest = new RcloneDestination({ target, serverId: 'srv1', rclone: { binary: RCLONE, config, timeoutMs: 30_000 }, tmpDir: path.join(dir, 'tmp') });

    assert.deepEqual(await dest.list(), [], 'an empty remote lists nothing');
    const a = await fixture(dir, 'b1', '2025-01-01T00:00:00.000Z');
    const b = await fixture(dir, 'b2', '2025-01-02T00:00:00.000Z');
    await dest.put(a.archive, a.manifest);
    await dest.put(b.archive, b.manifest);
    const onDisk = await fs.readFile(path.join(vault, 'ark', 'srv1', 'b1.tar.zst'), 'utf8');
    assert.equal(onDisk, 'archive b1', 'stored under <target>/<serverId>/');

    assert.equal(await dest.verify('b1', a.manifest.archive), true);
    assert.equal(await dest.verify('b1', { ...a.manifest.archive, sha256: '0'.repeat(64) }), false, 'wrong hash');
    assert.equal(await dest.verify('b1', { ...a.manifest.archive, size: 1 }), false, 'wrong size');
    assert.equal(await dest.verify('nope', a.manifest.archive), false, 'missing');

    assert.deepEqual((await dest.list()).map((m) => m.id), ['b2', 'b1'], 'newest first');
    await dest.putManifest({ ...a.manifest, locked: true });
    assert.equal((await dest.list()).find((m) => m.id === 'b1')?.locked, true);

    const got = await dest.get('b1', path.join(dir, 'dl'));
    assert.equal(await fs.readFile(got.archivePath, 'utf8'), 'archive b1');
    assert.equal(got.manifest.id, 'b1');

    await dest.remove('b1');
    await dest.remove('b1'); // already gone: fine
    assert.deepEqual((await dest.list()).map((m) => m.id), ['b2']);
    assert.deepEqual((await fs.readdir(path.join(vault, 'ark', 'srv1'))).sort(), ['b2.manifest.json', 'b2.tar.zst']);
  });
}

test('rclone: a tampered remote copy fails verification', async (t) => {
  const dir = await tempDir(t);
  const vault = path.join(dir, 'vault');
  const config = await rcloneConfig(dir, vault);
  const dest = new RcloneDestination({ target: 'vault:x', serverId: 'srv1', rclone: { binary: RCLONE, config, timeoutMs: 30_000 } });
  const a = await fixture(dir, 'b1', '2025-01-01T00:00:00.000Z');
  await dest.put(a.archive, a.manifest);
  await fs.writeFile(path.join(vault, 'x', 'srv1', 'b1.tar.zst'), 'archive b2'); // same size, other bytes
  assert.equal(await dest.verify('b1', a.manifest.archive), false);
});

test('rclone: a backend without sha256 (crypt) is verified by reading the copy back', async (t) => {
  const dir = await tempDir(t);
  const vault = path.join(dir, 'vault');
  const config = path.join(dir, 'crypt.conf');
  const obscured = execFileSync(RCLONE, ['obscure', 'correct horse'], { encoding: 'utf8' }).trim();
  await fs.writeFile(config, `[remote]\ntype = local\n\n[sec]\ntype = crypt\nremote = remote:${vault}\npassword = ${obscured}\n`);
  const dest = new RcloneDestination({ target: 'sec:', serverId: 'srv1', rclone: { binary: RCLONE, config, timeoutMs: 30_000 } });
  const a = await fixture(dir, 'b1', '2025-01-01T00:00:00.000Z', 'x'.repeat(5000));
  await dest.put(a.archive, a.manifest);
  assert.equal(await dest.verify('b1', a.manifest.archive), true);
  assert.equal(await dest.verify('b1', { ...a.manifest.archive, sha256: 'f'.repeat(64) }), false);
  assert.deepEqual((await dest.list()).map((m) => m.id), ['b1']);
});

test('rclone: a bad remote name fails with rclone\'s own words and no secrets', async (t) => {
  const dir = await tempDir(t);
  const config = await rcloneConfig(dir, path.join(dir, 'vault'));
  const a = await fixture(dir, 'b1', '2025-01-01T00:00:00.000Z');
  const dest = new RcloneDestination({ target: 'nosuchremote:bucket', serverId: 'srv1', rclone: { binary: RCLONE, config, timeoutMs: 30_000 } });
  const err = await dest.put(a.archive, a.manifest).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof ReconSyncError);
  assert.equal(err.code, 'BACKUP_FAILED');
  assert.match(err.message, /rclone copyto on nosuchremote:bucket failed \(exit \d+\): .*didn't find section in config file/);

  // A connection string with a password: fails locally (not obscured), and rclone's error echoes it.
  const secret = new RcloneDestination({ target: ':sftp,host=127.0.0.1,port=1,user=u,pass=TOPSECRET:dir', serverId: 'srv1', rclone: { binary: RCLONE, config, timeoutMs: 30_000 } });
  const err2 = await secret.put(a.archive, a.manifest).then(() => null, (e: unknown) => e);
  assert.ok(err2 instanceof ReconSyncError);
  assert.doesNotMatch(err2.message, /TOPSECRET/);
  assert.match(err2.message, /pass=\[redacted\]:dir.*is it obscured/);
});

test('rclone: a missing binary says how to fix it', async (t) => {
  const dir = await tempDir(t);
  const a = await fixture(dir, 'b1', '2025-01-01T00:00:00.000Z');
  const dest = new RcloneDestination({ target: 'x:y', serverId: 'srv1', rclone: { binary: path.join(dir, 'no-rclone'), timeoutMs: 5_000 } });
  await assert.rejects(dest.put(a.archive, a.manifest), /rclone not found at .*set rclone\.binary/);
});

test('local destination: put copies in, list skips manifests without an archive, sweep removes leftovers', async (t) => {
  const dir = await tempDir(t);
  const local = new LocalDestination({ dataDir: path.join(dir, 'data'), serverId: 'srv1' });
  const a = await fixture(dir, 'b1', '2025-01-01T00:00:00.000Z');
  await local.put(a.archive, a.manifest);
  assert.equal(await local.verify('b1', a.manifest.archive), true);
  const b = await fixture(dir, 'b2', '2025-01-02T00:00:00.000Z');
  await writeManifest(local.dir, b.manifest); // manifest without archive
  await fs.writeFile(path.join(local.dir, 'b3.tar.zst.partial'), 'half');
  await fs.writeFile(path.join(local.dir, 'b4.tar.zst'), 'renamed but never described');
  assert.deepEqual((await local.list()).map((m) => m.id), ['b1']);
  assert.deepEqual((await local.sweep()).sort(), ['b3.tar.zst.partial', 'b4.tar.zst']);
  await local.remove('b1');
  assert.deepEqual(await local.list(), []);
});

test('redactSecrets and joinRemote', () => {
  assert.equal(redactSecrets('Failed: https://user:hunter2@example.com/x'), 'Failed: https://[redacted]@example.com/x');
  assert.equal(redactSecrets(':sftp,host=h,pass=abc123:dir'), ':sftp,host=[redacted],pass=[redacted]:dir', 'rclone marks sftp host as Sensitive');
  assert.equal(redactSecrets('{"access_token":"ya29.x","expiry":"2025"}'), '{"access_token":"[redacted]","expiry":"2025"}');
  assert.equal(joinRemote('remote:', 's'), 'remote:s');
  assert.equal(joinRemote('remote:bucket/path/', 's'), 'remote:bucket/path/s');
  assert.equal(joinRemote('/mnt/b', 's'), '/mnt/b/s');
});
