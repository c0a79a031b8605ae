import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../backup/fs-util.ts';

const LastRunFileSchema = z.object({ version: z.literal(1), servers: z.record(z.string(), z.number()) });

/**
 * Per server, the time up to which scheduled runs are handled (epoch ms),
 * kept in `dataDir/scheduler/last-run.json` so a restart can tell whether a
 * run fell due while the agent was down.
 */
export class LastRunStore {
  readonly #file: string;
  #data: Record<string, number> | null = null;
  #writing: Promise<void> = Promise.resolve();

  constructor(dataDir: string) {
    this.#file = path.join(dataDir, 'scheduler', 'last-run.json');
  }

  async get(serverId: string): Promise<number | undefined> {
    return (await this.#load())[serverId];
  }

  async set(serverId: string, ms: number): Promise<void> {
    const data = await this.#load();
    data[serverId] = ms;
    // Serialise writes: several servers may finish at the same moment.
    this.#writing = this.#writing.then(async () => {
      await fs.mkdir(path.dirname(this.#file), { recursive: true });
      await writeFileAtomic(this.#file, `${JSON.stringify({ version: 1, servers: data }, null, 1)}\n`);
    });
    await this.#writing;
  }

  async #load(): Promise<Record<string, number>> {
    if (this.#data) return this.#data;
    try {
      const parsed = LastRunFileSchema.safeParse(JSON.parse(await fs.readFile(this.#file, 'utf8')));
      this.#data = parsed.success ? { ...parsed.data.servers } : {};
    } catch {
      this.#data = {}; // missing or unreadable: treat as a first start (no catch-up)
    }
    return this.#data;
  }
}
