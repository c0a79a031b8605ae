import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../../protocol/index.ts';
import { writeFileAtomic } from '../../lib/durable-file.ts';
import { errorMessage } from '../../lib/error-message.ts';

/** The operator's standing word on a managed server: `stop` keeps it down across agent restarts. */
export type OperatorIntent = 'run' | 'stop';

/**
 * Where a supervisor keeps the operator's word (the supervisor alone reads and
 * writes it: it owns "should this server run"). An agent that comes back must
 * not start a game someone deliberately stopped.
 */
export interface IntentStore {
  load(): Promise<OperatorIntent>;
  save(intent: OperatorIntent): Promise<void>;
}

/**
 * One server's intent as a file: `<dataDir>/intent/<serverId>.stopped` exists
 * while an operator stop stands (the layout agents wrote before, so an
 * upgraded agent keeps its word); its content is when, for a reader.
 */
export class IntentFile implements IntentStore {
  readonly #dir: string;
  readonly #file: string;
  readonly #clock: Clock;

  constructor(dataDir: string, serverId: string, clock: Clock) {
    this.#dir = path.join(dataDir, 'intent');
    this.#file = path.join(this.#dir, `${serverId}.stopped`);
    this.#clock = clock;
  }

  async load(): Promise<OperatorIntent> {
    try {
      await readFile(this.#file);
      return 'stop';
    } catch (err) {
      // Only a missing file means "no operator stop": an unreadable one must not start a game someone stopped.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'run';
      throw new Error(`cannot read the operator's stop record ${this.#file}: ${errorMessage(err)}; fix its permissions (the agent's user must read it) or delete it to let the agent start the game`, { cause: err });
    }
  }

  async save(intent: OperatorIntent): Promise<void> {
    if (intent === 'run') {
      await rm(this.#file, { force: true });
      return;
    }
    await mkdir(this.#dir, { recursive: true });
    await writeFileAtomic(this.#file, new Date(this.#clock.now()).toISOString());
  }
}

/**
 * The supervisor's hold on its IntentStore: read once, then kept in memory
 * (nothing else writes the store), and every save can be taken back.
 */
export class OperatorWord {
  readonly #store: IntentStore;
  #current: Promise<OperatorIntent> | null = null;

  constructor(store: IntentStore) {
    this.#store = store;
  }

  read(): Promise<OperatorIntent> {
    this.#current ??= this.#store.load().catch((err: unknown) => {
      this.#current = null; // read again next time
      throw err;
    });
    return this.#current;
  }

  /** Saves `intent`; returns how to put the previous word back. */
  async keep(intent: OperatorIntent): Promise<() => Promise<void>> {
    const before = await this.read().catch((): OperatorIntent => 'run');
    await this.#store.save(intent);
    this.#current = Promise.resolve(intent);
    return async () => {
      await this.keep(before);
    };
  }
}
