// Issue 10 §6: what the archiver writes, the restorer accepts. Every name class a
// Linux file system allows goes through the real pipeline: archive → verify →
// the engine's restore (extract, swap) → byte-for-byte compare.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { makeServer, Published, tempDir, TestAdminChannel, TestServerControl } from './helpers.ts';

/** Names as bytes (latin1 keys) → content, for every file and folder under root: names that are not UTF-8 included. */
async function readTreeBytes(root: Buffer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: Buffer, rel: string) => {
    for (const d of await fs.readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
      const r = `${rel}${d.name.toString('latin1')}`;
      const p = Buffer.concat([dir, Buffer.from('/'), d.name]);
      if (d.isDirectory()) {
        out[`${r}/`] = 'dir';
        await walk(p, `${r}/`);
      } else out[r] = (await fs.readFile(p)).toString('base64');
    }
  };
  await walk(root, '');
  return out;
}

const NOT_UTF8 = Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9, 0x2e, 0x73, 0x61, 0x76]); // "latin\xe9.sav" in Latin-1

/** One file per name class; each must come back exactly. */
const CLASSES: Record<string, string> = {
  'back\\slash.txt': 'backslash',
  '..\\..\\not-a-parent.sav': 'backslashes and dots are one name on Linux',
  'co:lon.sav': 'colon',
  'C:drive.sav': 'drive-letter look-alike',
  'new\nline.sav': 'newline',
  'tab\there.sav': 'tab',
  'ctl\x01\x1f.sav': 'control characters',
  'trailing dot.': 'Windows drops this dot',
  'ünïcødé ✓.sav': 'UTF-8',
  [`${'x'.repeat(251)}.sav`]: '255 bytes',
  [`${'é'.repeat(127)}x`]: '255 bytes of two-byte characters',
  [`${'d'.repeat(100)}/${'e'.repeat(100)}/${'f'.repeat(90)}/deep.sav`]: 'path over 100 and 255 characters: pax',
  'dir\\with\\backslash/inner:file.sav': 'in a folder whose name has backslashes',
};

const linuxOnly = { skip: process.platform === 'win32' ? 'Linux name classes' : false };

/** Writes the files, backs them up through the engine, scrambles them, restores; returns what the checks need. */
async function roundTrip(t: Parameters<typeof tempDir>[0], bytesNamed: Buffer[]) {
  const dir = await tempDir(t);
  const saves = path.join(dir, 'saves');
  for (const [name, content] of Object.entries(CLASSES)) {
    await fs.mkdir(path.dirname(path.join(saves, name)), { recursive: true });
    await fs.writeFile(path.join(saves, name), content);
  }
  for (const name of bytesNamed) await fs.writeFile(Buffer.concat([Buffer.from(`${saves}/`), name]), 'a name in bytes');
  const backedUp = await readTreeBytes(Buffer.from(saves));

  const server = makeServer({ savePaths: [saves], backup: { destinations: ['local'] }, exclude: [] });
  const pub = new Published();
  const engine = new BackupEngine({ dataDir: path.join(dir, 'data'), logger: silentLogger, publishRecord: pub.publishRecord, publishState: pub.publishState, zstdPoolSize: 1 });
  t.after(() => engine.close());
  await engine.init([server]);
  const control = new TestServerControl('running');
  const rec = await engine.create(server, control, new TestAdminChannel(), { trigger: 'manual' });
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'data', 'backups', server.id, `${rec.id}.manifest.json`), 'utf8')) as { warnings: string[]; files: Array<{ path: string }> };

  // Scramble every file that was backed up, remove one, add one.
  for (const name of Object.keys(CLASSES)) await fs.writeFile(path.join(saves, name), 'GRIEFED');
  await fs.rm(path.join(saves, 'co:lon.sav'));
  await fs.writeFile(path.join(saves, 'new-since.sav'), 'new');
  const restored = await engine.restore(server, control, null, { backupId: rec.id });
  return { rec, manifest, restored, backedUp, after: await readTreeBytes(Buffer.from(saves)), control, pub };
}

test('every name class Linux allows round-trips: archive, verify, restore through the engine, byte for byte', linuxOnly, async (t) => {
  const r = await roundTrip(t, []);
  assert.deepEqual(r.rec.destinations, [{ target: 'local', verified: true }]);
  assert.equal(r.rec.files, Object.keys(CLASSES).length);
  assert.deepEqual(r.manifest.files.map((f) => f.path).sort(), Object.keys(CLASSES).map((n) => `saves/${n}`).sort());
  assert.deepEqual(r.manifest.warnings, []);
  assert.equal(r.restored.backupId, r.rec.id);
  assert.deepEqual(r.after, r.backedUp, 'every name and byte as backed up');
  assert.equal(r.control.state, 'running');
  assert.deepEqual(r.pub.alerts(), []);
});

test('a name that is not UTF-8 is skipped with one warning, never counted as archived, and a restore keeps the file in place', linuxOnly, async (t) => {
  const r = await roundTrip(t, [NOT_UTF8, Buffer.from([0x62, 0xff, 0xfe])]);
  assert.equal(r.rec.files, Object.keys(CLASSES).length, 'the two byte names are not counted');
  assert.deepEqual(r.manifest.warnings, ['2 files not archived (name is not valid UTF-8, so a restore could not recreate it): saves/b\\xff\\xfe, saves/latin\\xe9.sav']);
  assert.deepEqual(r.after, r.backedUp, 'the restore carried the byte-named files over instead of deleting them');
});
