/**
 * A one-line progress bar on a terminal (redrawn with \r), or a line per
 * tenth when the output is a file or pipe, so logs stay readable.
 */
export class ProgressBar {
  readonly #out: NodeJS.WriteStream;
  readonly #width: number;
  #lastTenth = -1;
  #drawn = false;

  constructor(out: NodeJS.WriteStream, width = 30) {
    this.#out = out;
    this.#width = width;
  }

  update(label: string, percent: number, done: number, total: number): void {
    const pct = Math.max(0, Math.min(100, percent));
    const sizes = total > 0 ? ` ${mib(done)} / ${mib(total)} MiB` : '';
    if (this.#out.isTTY) {
      const filled = Math.round((pct / 100) * this.#width);
      this.#out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(this.#width - filled)}] ${pct.toFixed(1).padStart(5)}% ${label}${sizes}\x1b[K`);
      this.#drawn = true;
      return;
    }
    const tenth = Math.floor(pct / 10);
    if (tenth === this.#lastTenth) return;
    this.#lastTenth = tenth;
    this.#out.write(`${pct.toFixed(1)}% ${label}${sizes}\n`);
  }

  /** Ends the bar's line so the next output starts on a fresh one. */
  done(): void {
    if (this.#drawn) this.#out.write('\n');
    this.#drawn = false;
  }
}

const mib = (bytes: number) => (bytes / (1 << 20)).toFixed(1);
