import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { UpdateLastSchema, UpdateStepSchema } from '../../protocol/index.ts';
import { writeFileAtomic } from '../../lib/durable-file.ts';

/**
 * Where a running update is: written before each step that changes
 * something, so an agent that dies mid-update knows on its next start whether
 * to finish the update or put the old build back (never run a half-installed one).
 */
export const JournalSchema = z.object({
  from: z.string().nullable(),
  to: z.string(),
  step: UpdateStepSchema,
  /** Copy of the install folder before SteamCMD ran (saves left out); null when none was kept. */
  previousDir: z.string().nullable(),
  backupId: z.string().nullable(),
  /** The new build was started: its world may have been changed by it. */
  newBuildStarted: z.boolean(),
  /** The server ran before the update: it is started again at the end. */
  wasRunning: z.boolean(),
  actor: z.string(),
  startedAt: z.string(),
});
export type Journal = z.infer<typeof JournalSchema>;

export const ServerUpdateStateSchema = z.object({
  installedBuild: z.string().nullable().default(null),
  latestBuild: z.string().nullable().default(null),
  checkedAt: z.string().nullable().default(null),
  /** The newest build `update_available` was raised for: once per build. */
  notifiedBuild: z.string().nullable().default(null),
  last: UpdateLastSchema.nullable().default(null),
  journal: JournalSchema.nullable().default(null),
});
export type ServerUpdateState = z.infer<typeof ServerUpdateStateSchema>;

/** One JSON file per server under dataDir/updates, written atomically. */
export class UpdateStateStore {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'updates');
  }

  #file(serverId: string): string {
    return path.join(this.dir, `${serverId}.json`);
  }

  /** Working folder of one server's updates (the previous build's copy lives here). */
  workDir(serverId: string): string {
    return path.join(this.dir, serverId);
  }

  async get(serverId: string): Promise<ServerUpdateState> {
    let text: string;
    try {
      text = await readFile(this.#file(serverId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ServerUpdateStateSchema.parse({});
      throw err;
    }
    return ServerUpdateStateSchema.parse(JSON.parse(text));
  }

  async patch(serverId: string, change: Partial<ServerUpdateState>): Promise<ServerUpdateState> {
    const next = { ...(await this.get(serverId)), ...change };
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.#file(serverId), `${JSON.stringify(next, null, 2)}\n`);
    return next;
  }

  async remove(serverId: string): Promise<void> {
    await rm(this.#file(serverId), { force: true });
  }
}
