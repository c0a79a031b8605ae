import type { Clock } from '../../protocol/index.ts';
import type { ServerView } from '../service/types.ts';

export interface PresenceDeps {
  clock: Clock;
  /** Least time between two presence updates (the gateway allows few per minute). */
  intervalMs: number;
  signal: AbortSignal;
  listServers: () => ServerView[];
  /** Sends the text as the bot's activity; false while not logged in (tried again on the next change or login). */
  set: (text: string) => boolean;
}

/** "12 players on 3 servers": the bot's presence, across the servers whose agents are connected. */
export function presenceText(servers: ServerView[]): string {
  const live = servers.filter((s) => s.agentOnline && s.state === 'running');
  const players = live.reduce((n, s) => n + s.players.online, 0);
  return `${players} player${players === 1 ? '' : 's'} on ${live.length} server${live.length === 1 ? '' : 's'}`;
}

/**
 * Keeps the bot's presence at the current player count: at most one update
 * per interval, and none when the text did not change.
 */
export class PresenceUpdater {
  readonly #d: PresenceDeps;
  #shown: string | null = null;
  #waiting = false;
  #lastAt = -Infinity;

  constructor(deps: PresenceDeps) {
    this.#d = deps;
  }

  /** After a (re)login the gateway forgot the presence: send it again. */
  reset(): void {
    this.#shown = null;
    this.request();
  }

  request(): void {
    if (this.#waiting || this.#d.signal.aborted) return;
    const wait = this.#lastAt + this.#d.intervalMs - this.#d.clock.now();
    if (wait <= 0) {
      this.#update();
      return;
    }
    this.#waiting = true;
    this.#d.clock.sleep(wait, this.#d.signal).then(() => {
      this.#waiting = false;
      this.#update();
    }, () => { this.#waiting = false; });
  }

  #update(): void {
    const text = presenceText(this.#d.listServers());
    if (text === this.#shown) return;
    if (!this.#d.set(text)) return;
    this.#shown = text;
    this.#lastAt = this.#d.clock.now();
  }
}
