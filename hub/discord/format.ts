import type { ServerState } from '../../protocol/index.ts';

/** How each state looks in Discord: one glyph and one embed colour. */
export const stateStyle: Record<ServerState, { icon: string; color: number; label: string }> = {
  running: { icon: '🟢', color: 0x2ecc71, label: 'running' },
  starting: { icon: '🟡', color: 0xf1c40f, label: 'starting' },
  stopping: { icon: '🟡', color: 0xf1c40f, label: 'stopping' },
  unresponsive: { icon: '🟠', color: 0xe67e22, label: 'unresponsive' },
  crashed: { icon: '🔴', color: 0xe74c3c, label: 'crashed' },
  stopped: { icon: '⚫', color: 0x95a5a6, label: 'stopped' },
  unknown: { icon: '❔', color: 0x7f8c8d, label: 'unknown' },
};

export const OFFLINE_COLOR = 0x7f8c8d;

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Discord renders `<t:…:R>` as "3 hours ago" on the reader's side, so the text stays stable and needs no edits. */
export function relativeTime(ms: number): string {
  return `<t:${Math.floor(ms / 1000)}:R>`;
}

/** Plain relative age for places without markdown (autocomplete choice names). */
export function plainAge(fromMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - fromMs) / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  if (s < 129_600) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/** Inline code that cannot be broken out of by the value itself. */
export function inlineCode(s: string): string {
  return '`' + s.replace(/`/g, 'ˋ') + '`';
}

/** Neutralises markdown and mentions in text that comes from game servers or users. */
export function escapeText(s: string): string {
  return s.replace(/([\\*_~|`>#[\]()-])/g, '\\$1').replace(/@/g, '@\u200b');
}

/** A server as command replies name it: its name in bold, its id as code. */
export function serverLabel(s: { name: string; id: string }): string {
  return `**${escapeText(s.name)}** (${inlineCode(s.id)})`;
}
