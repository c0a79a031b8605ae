// Issue 10 §6: a backup counts as verified only when the restorer's own checks pass on it.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createArchive } from '../../../agent/backup/archive.ts';
import { sha256File } from '../../../agent/backup/fs-util.ts';
import { END_OF_ARCHIVE, encodeHeader, paddingFor } from '../../../agent/backup/tar.ts';
import { NotRestorableError, verifyRestorable } from '../../../agent/backup/verify.ts';
import { tempDir, writeTree } from './helpers.ts';

/** A gzip tar written entry by entry, so a test can put in what our archiver never would. */
async function rawArchive(file: string, entries: Array<{ path: string; data: string }>): Promise<{ sha256: string; size: number }> {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data);
    parts.push(encodeHeader({ path: e.path, type: 'file', size: data.length, mode: 0o644, mtime: 0 }), data, Buffer.alloc(paddingFor(data.length)));
  }
  parts.push(END_OF_ARCHIVE);
  await fs.writeFile(file, gzipSync(Buffer.concat(parts)));
  return sha256File(file);
}

const roots = { w: { kind: 'dir' as const } };

test('a fresh archive passes; a copy with a hostile entry, a file list that does not match, or changed bytes does not', async (t) => {
  const dir = await tempDir(t);
  await writeTree(path.join(dir, 'w'), { 'a.sav': 'alpha', 'sub/b.sav': 'beta' });
  const a = await createArchive({ source: { savePaths: [path.join(dir, 'w')], include: [], exclude: [], sqlite: [] }, dir: path.join(dir, 'out'), id: 'ok', format: 'tar.gz', pool: null, tmpDir: path.join(dir, 'tmp') });
  const base = { archivePath: a.archivePath, format: 'tar.gz' as const, pool: null, sha256: a.sha256, size: a.size, roots: a.roots, files: a.files };
  await verifyRestorable(base);

  await assert.rejects(verifyRestorable({ ...base, files: [...a.files, { path: 'w/missing.sav', size: 1, mtime: '' }] }), (e: unknown) => e instanceof NotRestorableError && /1 files of its list are not in it, e\.g\. "w\/missing\.sav"/.test(e.message));
  await assert.rejects(verifyRestorable({ ...base, files: a.files.map((f) => ({ ...f, size: f.size + 1 })) }), /has 5 bytes, its file list says 6|has 4 bytes, its file list says 5/);
  await assert.rejects(verifyRestorable({ ...base, roots: { other: { kind: 'dir' } } }), /"w" is not a root listed in the manifest/);
  await assert.rejects(verifyRestorable({ ...base, sha256: '0'.repeat(64) }), /on disk it has \d+ bytes and sha256/);

  const hostile = path.join(dir, 'hostile.tar.gz');
  const h = await rawArchive(hostile, [{ path: 'w/ok.sav', data: 'x' }, { path: 'w/../../escape.sav', data: 'y' }]);
  await assert.rejects(
    verifyRestorable({ archivePath: hostile, format: 'tar.gz', pool: null, ...h, roots, files: [{ path: 'w/ok.sav', size: 1 }, { path: 'w/../../escape.sav', size: 1 }] }),
    (e: unknown) => e instanceof NotRestorableError && e.code === 'BACKUP_FAILED' && /would not restore \(archive entry "w\/\.\.\/\.\.\/escape\.sav" refused: path contains "\.\."/.test(e.message),
  );
  const extra = path.join(dir, 'extra.tar.gz');
  const x = await rawArchive(extra, [{ path: 'w/ok.sav', data: 'x' }, { path: 'w/unlisted.sav', data: 'y' }]);
  await assert.rejects(verifyRestorable({ archivePath: extra, format: 'tar.gz', pool: null, ...x, roots, files: [{ path: 'w/ok.sav', size: 1 }] }), /holds "w\/unlisted\.sav", which its file list does not name/);
});
