import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../lib/durable-file.ts';

/**
 * Remembers that an operator stopped a managed server, across agent restarts:
 * an agent that comes back must not start a game someone deliberately stopped.
 */
export class IntentStore {
  readonly #dir: string;
  constructor(dataDir: string) {
    this.#dir = path.join(dataDir, 'intent');
  }

  #file(serverId: string): string {
    return path.join(this.#dir, `${serverId}.stopped`);
  }

  async stoppedByOperator(serverId: string): Promise<boolean> {
    try {
      await readFile(this.#file(serverId));
      return true;
    } catch {
      return false;
    }
  }

  async markStopped(serverId: string): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await writeFileAtomic(this.#file(serverId), new Date().toISOString());
  }

  async markStarted(serverId: string): Promise<void> {
    await rm(this.#file(serverId), { force: true });
  }
}
