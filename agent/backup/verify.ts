import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ReconSyncError } from '../../protocol/index.ts';
import { decompressStream, type ArchiveFormat, type ZstdPool } from './compress.ts';
import { checkEntry, HostileEntryError } from './extract.ts';
import { printableName } from './names.ts';
import { readTar } from './tar.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * The local verification of a fresh archive: it reads the file back from disk
 * (sha256 and size as the manifest will say), decompresses it, and runs the
 * restorer's own entry checks (extract.ts `checkEntry`) over every entry,
 * then compares the entries with the file list the manifest will carry. A
 * backup only counts as verified once this passes, so a verified backup is
 * one the restorer accepts, entry for entry.
 */

export interface VerifyArchiveOptions {
  archivePath: string;
  format: ArchiveFormat;
  pool: ZstdPool | null;
  sha256: string;
  size: number;
  roots: Record<string, { kind: 'dir' | 'file' }>;
  files: Array<{ path: string; size: number }>;
  signal?: AbortSignal;
  onProgress?: (bytesDone: number) => void;
}

export class NotRestorableError extends ReconSyncError {
  constructor(archivePath: string, reason: string, cause?: unknown) {
    super('BACKUP_FAILED', `the new archive ${archivePath} would not restore (${reason}); it was not kept. This is a bug in the archiver: please report it with this message`, cause === undefined ? undefined : { cause });
  }
}

export async function verifyRestorable(o: VerifyArchiveOptions): Promise<void> {
  const hash = createHash('sha256');
  let read = 0;
  const source = createReadStream(o.archivePath, { highWaterMark: 1 << 20, ...(o.signal ? { signal: o.signal } : {}) });
  async function* tap(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      hash.update(chunk as Buffer);
      read += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  }
  const bytes = tap();
  const expected = new Map(o.files.map((f) => [f.path, f.size]));
  const seen = new Set<string>();
  let unpacked = 0;
  try {
    for await (const entry of readTar(decompressStream(bytes, o.format, o.pool))) {
      o.signal?.throwIfAborted();
      const h = entry.header;
      const c = checkEntry(h, o.roots);
      if (h.type === 'hardlink' && !seen.has(c.link!)) throw new HostileEntryError(h.path, 'hard link to a file outside this archive root');
      if (h.type !== 'file') continue;
      let n = 0;
      for await (const chunk of entry.body()) n += chunk.length;
      if (seen.has(c.normalized)) throw new NotRestorableError(o.archivePath, `"${printableName(c.normalized)}" is in it twice`);
      const want = expected.get(c.normalized);
      if (want === undefined) throw new NotRestorableError(o.archivePath, `it holds "${printableName(h.path)}", which its file list does not name`);
      if (want !== n) throw new NotRestorableError(o.archivePath, `"${printableName(h.path)}" has ${n} bytes, its file list says ${want}`);
      seen.add(c.normalized);
      unpacked += n;
      o.onProgress?.(unpacked);
    }
    // The tar ends before the file does (compressor trailer): hash the rest too.
    for await (const chunk of bytes) void chunk;
  } catch (err) {
    if (err instanceof NotRestorableError) throw err;
    if (o.signal?.aborted) throw err;
    throw new NotRestorableError(o.archivePath, errorMessage(err), err);
  }
  const missing = o.files.filter((f) => !seen.has(f.path));
  if (missing.length) throw new NotRestorableError(o.archivePath, `${missing.length} files of its list are not in it, e.g. "${printableName(missing[0]!.path)}"`);
  const sha256 = hash.digest('hex');
  if (read !== o.size || sha256 !== o.sha256) throw new NotRestorableError(o.archivePath, `on disk it has ${read} bytes and sha256 ${sha256.slice(0, 12)}…, it was written with ${o.size} bytes and ${o.sha256.slice(0, 12)}…`);
}
