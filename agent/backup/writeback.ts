import type { FileHandle } from 'node:fs/promises';

/**
 * Starts an archive's writeback while it is still being written: every
 * `everyBytes` a background fdatasync, at most one at a time. The archiver's own
 * fsync before the rename stays the one that counts (and reports errors); it
 * then finds the tail left only. Measured on 100 MiB (bench/README.md): the
 * final fsync was 55–80 ms of a ~300 ms backup, serial after everything else.
 * Every 4 MiB rather than 16: once zstd read the large files itself, the
 * tail left to the final fsync was the largest serial step (native backup
 * 1.08–1.10× `tar | zstd` with 16 MiB, 1.13–1.28× with 4 MiB, same runs).
 */
export class EarlyWriteback {
  readonly #file: FileHandle;
  readonly #everyBytes: number;
  #syncedAt = 0;
  #inFlight: Promise<void> | null = null;

  constructor(file: FileHandle, everyBytes = 4 * 1024 * 1024) {
    this.#file = file;
    this.#everyBytes = everyBytes;
  }

  /** `bytes` of the file are written: starts a writeback when enough is new since the last. */
  wrote(bytes: number): void {
    if (this.#inFlight || bytes - this.#syncedAt < this.#everyBytes) return;
    this.#syncedAt = bytes;
    void this.now();
  }

  /** Starts one now (after the one in flight); resolves when it is done. Errors are left to the final fsync. */
  now(): Promise<void> {
    const run = (this.#inFlight ?? Promise.resolve()).then(() => this.#file.datasync()).catch(() => undefined);
    const mine: Promise<void> = run.finally(() => {
      if (this.#inFlight === mine) this.#inFlight = null;
    });
    this.#inFlight = mine;
    return mine;
  }

  /** Waits for the writeback in flight, if any (before the file is closed). */
  async idle(): Promise<void> {
    await this.#inFlight;
  }
}
