import type { ServerView } from '../hub/service/types.ts';

/** Formats an age like "12s", "4m", "3h" for the status view. */
export function formatAge(fromIso: string | null | undefined, now: number): string {
  if (!fromIso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(fromIso)) / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** The lines of the demo's live status table (no colours: it must read well in any log). */
export function renderStatus(servers: ServerView[], now: number, relative = true): string[] {
  // Off a terminal the table is printed only when it changes, so it must not tick every second.
  const when = (iso: string) => (relative ? `${formatAge(iso, now)} ago` : `at ${iso.slice(11, 19)}Z`);
  const header = ['SERVER', 'GAME', 'STATE', 'PLAYERS', 'MAP', 'LAST BACKUP', 'AGENT'];
  const rows = servers.map((s) => [
    s.id,
    s.game,
    s.state,
    `${s.players.online}/${s.players.max}`,
    s.map ?? '—',
    s.lastBackup ? `${when(s.lastBackup.createdAt)}, ${formatBytes(s.lastBackup.size)}${s.lastBackup.verified ? ', verified' : ''}` : 'none yet',
    s.agentOnline ? 'online' : 'offline',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

/**
 * Redraws a block of lines in place on a TTY (cursor up + clear line);
 * elsewhere prints the block only when it changed, so logs stay readable.
 */
export class LiveBlock {
  #lastLines = 0;
  #lastText = '';
  readonly #out: NodeJS.WriteStream;
  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }

  draw(lines: string[]): void {
    const text = lines.join('\n');
    if (!this.#out.isTTY) {
      if (text !== this.#lastText) this.#out.write(`${text}\n`);
      this.#lastText = text;
      return;
    }
    let buf = this.#lastLines ? `\x1b[${this.#lastLines}A` : '';
    for (const l of lines) buf += `\x1b[2K${l}\n`;
    this.#out.write(buf);
    this.#lastLines = lines.length;
    this.#lastText = text;
  }

  /** Print a message above the live block without tearing it. */
  log(message: string): void {
    if (this.#out.isTTY && this.#lastLines) {
      this.#out.write(`\x1b[${this.#lastLines}A\x1b[0J${message}\n`);
      this.#lastLines = 0;
      this.draw(this.#lastText.split('\n'));
    } else {
      this.#out.write(`${message}\n`);
    }
  }
}
