/**
 * Which backups to delete, per destination. Pure: no I/O, no clock.
 *
 * Rules (restic/borg style): keep the `last` N newest, plus the newest backup
 * of each of the most recent `hourly` hours, `daily` days, `weekly` ISO weeks
 * and `monthly` months that have one. Only verified copies count and only
 * verified copies are deleted (an unverified copy is an upload in flight or a
 * failed one, which the engine handles). Never deleted: locked backups, a
 * backup with an upload still pending anywhere (its local copy is the source),
 * and the newest verified backup of the destination.
 */

export interface Keep {
  last: number;
  hourly: number;
  daily: number;
  weekly: number;
  monthly: number;
}

export interface RetentionItem {
  id: string;
  /** ISO 8601 or epoch milliseconds. */
  createdAt: string | number;
  locked: boolean;
  uploadPending: boolean;
  destinations: ReadonlyArray<{ target: string; verified: boolean }>;
}

export interface RetentionOptions {
  /** IANA zone for the hour/day/week/month buckets (the schedule's zone); default UTC. */
  timeZone?: string;
}

type Bucket = 'hourly' | 'daily' | 'weekly' | 'monthly';

function parts(ms: number, fmt: Intl.DateTimeFormat): { y: number; m: number; d: number; h: number } {
  const p: Record<string, string> = {};
  for (const x of fmt.formatToParts(new Date(ms))) p[x.type] = x.value;
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), h: Number(p.hour) % 24 };
}

function isoWeek(y: number, m: number, d: number): string {
  const date = new Date(Date.UTC(y, m - 1, d));
  const day = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - day); // the Thursday of this week decides its year
  const yearStart = Date.UTC(date.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((date.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${date.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export function bucketKeys(ms: number, timeZone = 'UTC'): Record<Bucket, string> {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
  const { y, m, d, h } = parts(ms, fmt);
  const day = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  return { hourly: `${day}T${String(h).padStart(2, '0')}`, daily: day, weekly: isoWeek(y, m, d), monthly: day.slice(0, 7) };
}

function toMs(t: string | number): number {
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) throw new Error(`bad backup timestamp: ${String(t)}`);
  return ms;
}

/** Ids kept by the keep rules among verified items (newest first). */
export function selectKept(items: ReadonlyArray<{ id: string; ms: number }>, keep: Keep, opts: RetentionOptions = {}): Set<string> {
  const sorted = [...items].sort((a, b) => b.ms - a.ms || (a.id < b.id ? 1 : -1));
  const kept = new Set(sorted.slice(0, Math.max(0, keep.last)).map((i) => i.id));
  for (const bucket of ['hourly', 'daily', 'weekly', 'monthly'] as const) {
    const n = keep[bucket];
    if (n <= 0) continue;
    const seen = new Set<string>();
    for (const item of sorted) {
      const key = bucketKeys(item.ms, opts.timeZone)[bucket];
      if (seen.has(key)) continue;
      seen.add(key);
      kept.add(item.id);
      if (seen.size >= n) break;
    }
  }
  return kept;
}

/** Map of destination target → backup ids to delete there. Targets with nothing to delete are absent. */
export function planRetention(items: ReadonlyArray<RetentionItem>, keep: Keep, opts: RetentionOptions = {}): Map<string, string[]> {
  const byTarget = new Map<string, Array<{ id: string; ms: number; item: RetentionItem }>>();
  for (const item of items) {
    const ms = toMs(item.createdAt);
    for (const d of item.destinations) {
      if (!d.verified) continue;
      let list = byTarget.get(d.target);
      if (!list) byTarget.set(d.target, (list = []));
      list.push({ id: item.id, ms, item });
    }
  }
  const out = new Map<string, string[]>();
  for (const [target, list] of byTarget) {
    const kept = selectKept(list, keep, opts);
    const newest = list.reduce((a, b) => (b.ms > a.ms || (b.ms === a.ms && b.id > a.id) ? b : a));
    kept.add(newest.id);
    const doomed = list
      .filter((e) => !kept.has(e.id) && !e.item.locked && !e.item.uploadPending)
      .sort((a, b) => a.ms - b.ms)
      .map((e) => e.id);
    if (doomed.length) out.set(target, doomed);
  }
  return out;
}
