import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { BackupRecordSchema, type BackupRecord } from '../../protocol/index.ts';
import { readJsonFile, writeFileAtomic } from './fs-util.ts';
import { safeParse } from '../../protocol/safe-parse.ts';

/**
 * The agent's own record of each server's backups: which destinations hold a
 * verified copy, which uploads are still pending, which are locked. One JSON
 * file per server in `dataDir/backup-state/`, written atomically. When it is
 * lost it can be rebuilt from the manifests on the destinations.
 */

export const CatalogEntrySchema = z.object({
  record: BackupRecordSchema,
  unpackedSize: z.number().int().nonnegative(),
  /** Destination targets whose upload has not been verified yet. */
  pending: z.array(z.string()),
  /**
   * Set while a backup is being made, cleared once its backup.completed record
   * is in the outbox. An entry still marked at start was interrupted by a kill
   * after its archive was whole: it is reported then (pipeline.ts reportUncommitted).
   */
  uncommitted: z.literal(true).optional(),
});
export type CatalogEntry = z.infer<typeof CatalogEntrySchema>;

const CatalogFileSchema = z.object({ version: z.literal(1), entries: z.array(CatalogEntrySchema) });

export class Catalog {
  readonly #cache = new Map<string, Map<string, CatalogEntry>>();
  readonly #dataDir: string;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  #file(serverId: string): string {
    return path.join(this.dir, `${serverId}.json`);
  }

  /** Null when there is no (readable) catalog for this server yet. */
  async load(serverId: string): Promise<Map<string, CatalogEntry> | null> {
    const cached = this.#cache.get(serverId);
    if (cached) return cached;
    const raw = await readJsonFile(this.#file(serverId)).catch(() => undefined);
    const parsed = safeParse(CatalogFileSchema, raw);
    if (!parsed.success) return null;
    const map = new Map(parsed.data.entries.map((e) => [e.record.id, e]));
    this.#cache.set(serverId, map);
    return map;
  }

  async entries(serverId: string): Promise<Map<string, CatalogEntry>> {
    const m = await this.load(serverId);
    if (m) return m;
    const fresh = new Map<string, CatalogEntry>();
    this.#cache.set(serverId, fresh);
    return fresh;
  }

  async replace(serverId: string, entries: CatalogEntry[]): Promise<void> {
    this.#cache.set(serverId, new Map(entries.map((e) => [e.record.id, e])));
    await this.save(serverId);
  }

  async put(serverId: string, entry: CatalogEntry): Promise<void> {
    (await this.entries(serverId)).set(entry.record.id, entry);
    await this.save(serverId);
  }

  async delete(serverId: string, id: string): Promise<void> {
    (await this.entries(serverId)).delete(id);
    await this.save(serverId);
  }

  /** Newest first. */
  async records(serverId: string): Promise<BackupRecord[]> {
    return [...(await this.entries(serverId)).values()]
      .map((e) => e.record)
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
  }

  /**
   * Writes the cached entries. When the write fails (a full disk), the cache
   * is dropped so the next read comes from the file again: the catalog never
   * holds in memory what it could not keep on disk, which would let a backup
   * count here that the hub was never told about.
   */
  async save(serverId: string): Promise<void> {
    const entries = [...(this.#cache.get(serverId)?.values() ?? [])];
    try {
      await fs.mkdir(path.dirname(this.#file(serverId)), { recursive: true });
      await writeFileAtomic(this.#file(serverId), `${JSON.stringify({ version: 1, entries }, null, 1)}\n`);
    } catch (err) {
      this.#cache.delete(serverId);
      throw err;
    }
  }

  /** Folder of the catalog files (for the start-up sweep of temp files). */
  get dir(): string {
    return path.join(this.#dataDir, 'backup-state');
  }
}
