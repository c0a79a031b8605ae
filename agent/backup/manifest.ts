import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { BackupTriggerSchema, id as serverIdSchema, type BackupRecord } from '../../protocol/index.ts';
import { writeFileAtomic } from './fs-util.ts';
import { safeParse } from '../../protocol/safe-parse.ts';
import { issueLines } from '../../lib/zod-issue.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * The JSON file beside every archive (`<id>.manifest.json`). It carries
 * everything the catalog needs, so a catalog can be rebuilt from any one
 * destination alone, and everything restore needs to put files back.
 */

/** Backup ids become file names on every destination: keep them plain. */
export const BackupIdSchema = z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore');

export const ManifestRootSchema = z.object({
  /** Absolute path of the save folder or file on the agent's machine. */
  path: z.string().min(1),
  kind: z.enum(['dir', 'file']),
});

export const ManifestFileSchema = z.object({
  /** `<root>/<relative path>` with forward slashes; a file root is just `<root>`. */
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  mtime: z.string(),
});

export const ManifestSchema = z.object({
  manifestVersion: z.literal(1),
  id: BackupIdSchema,
  serverId: serverIdSchema,
  game: z.string().max(64),
  createdAt: z.string(),
  trigger: BackupTriggerSchema,
  note: z.string().max(500).optional(),
  /** Archive root name → where it lives on disk. */
  roots: z.record(z.string(), ManifestRootSchema),
  files: z.array(ManifestFileSchema),
  archive: z.object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    size: z.number().int().nonnegative(),
    format: z.enum(['tar.zst', 'tar.gz']),
    /** Sum of the file sizes inside, for the disk check on restore and the shrink watchdog. */
    unpackedSize: z.number().int().nonnegative(),
  }),
  toolVersion: z.string().max(64),
  locked: z.boolean(),
  /** Things the archiver noticed and the operator should know (e.g. a file that vanished during the copy). */
  warnings: z.array(z.string().max(1000)).default([]),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export function manifestFileName(id: string): string {
  return `${id}.manifest.json`;
}

export function archiveFileName(id: string, format: Manifest['archive']['format']): string {
  return `${id}.${format}`;
}

/** Parses manifest text; throws a message naming the source when it does not fit. */
export function parseManifest(text: string, source: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON (${errorMessage(err)})`);
  }
  const r = safeParse(ManifestSchema, raw);
  if (!r.success) throw new Error(`${source}: not a ReconSync manifest (${issueLines(r.error).join('; ')})`);
  return r.data;
}

export function serializeManifest(m: Manifest): string {
  return `${JSON.stringify(ManifestSchema.parse(m), null, 2)}\n`;
}

export async function writeManifest(dir: string, m: Manifest): Promise<string> {
  const file = path.join(dir, manifestFileName(m.id));
  await writeFileAtomic(file, serializeManifest(m));
  return file;
}

export async function readManifest(file: string): Promise<Manifest> {
  return parseManifest(await fs.readFile(file, 'utf8'), file);
}

/** The catalog view of a manifest, with the destinations' verification state supplied by the caller. */
export function toBackupRecord(m: Manifest, destinations: BackupRecord['destinations']): BackupRecord {
  return {
    id: m.id,
    serverId: m.serverId,
    game: m.game,
    createdAt: m.createdAt,
    size: m.archive.size,
    sha256: m.archive.sha256,
    files: m.files.length,
    trigger: m.trigger,
    ...(m.note !== undefined ? { note: m.note } : {}),
    format: m.archive.format,
    locked: m.locked,
    destinations,
    ...(m.warnings.length ? { warnings: m.warnings.slice(0, 20) } : {}),
  };
}
