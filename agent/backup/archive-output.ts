import { createHash } from 'node:crypto';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { FrameWriter, type ArchiveFormat, type ZstdPool } from './compress.ts';
import { EarlyWriteback } from './writeback.ts';
import { DefaultNativeZstdOptions, fdLinker, NativeZstdWriter } from './zstd-native.ts';
import type { DirectRead } from './copy.ts';

/**
 * Where the archiver's tar chunks go: compressed, written to the `.partial`
 * file and hashed (sha256 of the bytes on disk). Two ways, one contract:
 * - the `zstd` binary (zstd-native.ts), when the pool has a usable one: zstd
 *   writes the file itself and the hash is read back behind it;
 * - the WASM workers (or gzip on zlib's pool): frames come back to us, are
 *   hashed and written in order.
 * Neither fsyncs: the archiver does that once, then renames.
 */
export interface ArchiveOutput {
  /** 'native' (zstd binary), 'wasm' or 'gzip'. */
  readonly kind: 'native' | 'wasm' | 'gzip';
  /** Largest tar chunk this output wants (smaller ones pipeline better into the binary); none: any. */
  readonly chunkBytes?: number;
  /** One tar chunk; resolves when there is room for another. */
  write(chunk: Buffer): Promise<void>;
  /**
   * Native on Linux only: zstd reads this open file itself, after the chunks so far
   * (zstd-native.ts direct()). `read` settles once zstd is past it: keep the file open until then.
   */
  direct?: DirectRead;
  /** Every chunk given: size and sha256 of what is in the file. */
  end(): Promise<{ size: number; sha256: string }>;
  /** Stops the compressor after a failure; the partial file is the caller's to remove. */
  abort(): Promise<void>;
}

export interface ArchiveOutputOptions {
  /** The `.partial`, opened 'w+' (the native path reads it back for the hash), and its path. */
  file: FileHandle;
  filePath: string;
  format: ArchiveFormat;
  pool: ZstdPool | null;
  level?: number;
  window?: number;
  /** Tar bytes the plan expects (native: how many frame names zstd gets), files for direct() included. */
  expectedBytes: number;
  /** Of those, the files the archiver gives to direct() when there is one: their count and bytes. */
  expectedDirect?: { files: number; bytes: number };
  /** A folder for the native path's FIFOs and frame files (a private subfolder is made in it; 2 frames of page cache). */
  tmpDir: string;
  /** Native path: a chunk is in zstd's hands and its memory may be reused. */
  release?: (chunk: Buffer) => void;
}

export async function openArchiveOutput(o: ArchiveOutputOptions): Promise<ArchiveOutput> {
  const launcher = o.format === 'tar.zst' && o.pool ? await o.pool.nativeLauncher() : null;
  if (launcher) {
    await fs.mkdir(o.tmpDir, { recursive: true });
    const fifoDir = await fs.mkdtemp(path.join(o.tmpDir, 'zstd-'));
    try {
      const linker = fdLinker();
      const direct = linker ? o.expectedDirect : undefined;
      const w = await NativeZstdWriter.start({
        launcher, level: o.level ?? 1, file: o.file, filePath: o.filePath, fifoDir,
        expectedBytes: Math.max(0, o.expectedBytes - (direct?.bytes ?? 0)), expectedDirect: direct?.files ?? 0,
        ...(o.release ? { release: o.release } : {}),
        ...(o.pool!.nativeFrameBytes !== undefined ? { frameBytes: o.pool!.nativeFrameBytes } : {}),
      });
      return {
        kind: 'native', chunkBytes: DefaultNativeZstdOptions.chunkBytes, write: (c) => w.write(c), end: () => w.end(), abort: () => w.abort(),
        ...(linker ? { direct: (fh: FileHandle) => w.direct(linker(fh.fd)) } : {}),
      };
    } catch {
      // zstd could not start here (no FIFOs on this file system, a broken binary): nothing was written yet, so
      // the WASM workers take this archive; a zstd that fails mid-archive fails the backup instead.
      await fs.rm(fifoDir, { recursive: true, force: true });
    }
  }
  return frameOutput(o);
}

function frameOutput(o: ArchiveOutputOptions): ArchiveOutput {
  const hash = createHash('sha256');
  let size = 0;
  const writeback = new EarlyWriteback(o.file);
  const writer = new FrameWriter({
    format: o.format,
    pool: o.pool,
    ...(o.window !== undefined ? { window: o.window } : {}),
    ...(o.level !== undefined ? { level: o.level } : {}),
    output: async (buf) => {
      hash.update(buf);
      size += buf.byteLength;
      for (let off = 0; off < buf.byteLength;) off += (await o.file.write(buf, off, buf.byteLength - off)).bytesWritten;
      writeback.wrote(size);
    },
  });
  return {
    kind: o.format === 'tar.gz' ? 'gzip' : 'wasm',
    write: (c) => writer.write(c),
    end: async () => {
      await writer.end();
      await writeback.idle();
      return { size, sha256: hash.digest('hex') };
    },
    // In-flight chunks finish into the file the caller removes; end() is never called.
    abort: async () => {
      await writer.end().catch(() => undefined);
      await writeback.idle();
    },
  };
}
