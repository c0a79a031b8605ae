import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketKeys, planRetention, type Keep, type RetentionItem } from '../../../agent/backup/retention.ts';

const keep = (k: Partial<Keep>): Keep => ({ last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, ...k });
const H = 3_600_000;
const T0 = Date.UTC(2025, 2, 10, 12, 0, 0); // Monday 2025-03-10 12:00Z

function item(id: string, at: number, opts: Partial<RetentionItem> & { targets?: Record<string, boolean> } = {}): RetentionItem {
  const targets = opts.targets ?? { local: true };
  return {
    id, createdAt: new Date(at).toISOString(), locked: opts.locked ?? false, uploadPending: opts.uploadPending ?? false,
    destinations: Object.entries(targets).map(([target, verified]) => ({ target, verified })),
  };
}

/** n backups, one every `step` ms, newest first: b0 is the newest. */
function series(n: number, step: number, start = T0): RetentionItem[] {
  return Array.from({ length: n }, (_, i) => item(`b${i}`, start - i * step));
}

const cases: Array<{ name: string; items: RetentionItem[]; keep: Keep; tz?: string; expect: Record<string, string[]> }> = [
  { name: 'keep last 3 of 5', items: series(5, H), keep: keep({ last: 3 }), expect: { local: ['b4', 'b3'] } },
  { name: 'nothing to delete under the limit', items: series(2, H), keep: keep({ last: 3 }), expect: {} },
  { name: 'last 0 still keeps the newest verified', items: series(3, H), keep: keep({}), expect: { local: ['b2', 'b1'] } },
  // 12:00 | 11:45 11:30 11:15 11:00 | 10:45 ... : the newest of the hours 12, 11 and 10 stay.
  { name: 'hourly 3 + last 1 (4 per hour)', items: series(12, H / 4), keep: keep({ last: 1, hourly: 3 }), expect: { local: ['b11', 'b10', 'b9', 'b8', 'b7', 'b6', 'b4', 'b3', 'b2'] } },
  // 10th 12:00, 06:00, 00:00 | 9th 18:00 ... | 8th 18:00 ...: b0, b3 and b7 stay.
  { name: 'daily 3 keeps the newest of each of 3 days', items: series(12, 6 * H), keep: keep({ daily: 3 }), expect: { local: ['b11', 'b10', 'b9', 'b8', 'b6', 'b5', 'b4', 'b2', 'b1'] } },
  { name: 'weekly 2 over 3 weeks of dailies', items: series(21, 24 * H), keep: keep({ weekly: 2 }), expect: { local: series(21, 24 * H).map((i) => i.id).filter((id) => !['b0', 'b1'].includes(id)).reverse() } },
  { name: 'monthly 2', items: [item('mar', T0), item('feb2', Date.UTC(2025, 1, 20)), item('feb1', Date.UTC(2025, 1, 5)), item('jan', Date.UTC(2025, 0, 15))], keep: keep({ monthly: 2 }), expect: { local: ['jan', 'feb1'] } },
  { name: 'locked backups are exempt', items: series(5, H).map((i) => (i.id === 'b4' ? { ...i, locked: true } : i)), keep: keep({ last: 2 }), expect: { local: ['b3', 'b2'] } },
  { name: 'a backup with an upload pending is never deleted', items: series(4, H).map((i) => (i.id === 'b3' ? { ...i, uploadPending: true } : i)), keep: keep({ last: 1 }), expect: { local: ['b2', 'b1'] } },
  {
    name: 'per destination: unverified copies neither count nor get deleted; the newest verified copy stays',
    items: [
      item('b0', T0, { targets: { local: true, 'r:x': false }, uploadPending: false }),
      item('b1', T0 - H, { targets: { local: true, 'r:x': false } }),
      item('b2', T0 - 2 * H, { targets: { local: true, 'r:x': true } }),
      item('b3', T0 - 3 * H, { targets: { local: true, 'r:x': true } }),
    ],
    keep: keep({ last: 1 }),
    expect: { local: ['b3', 'b2', 'b1'], 'r:x': ['b3'] },
  },
  {
    name: 'days follow the schedule timezone (23:30Z is the next day in Berlin)',
    items: [item('late', Date.UTC(2025, 2, 10, 23, 30)), item('early', Date.UTC(2025, 2, 10, 22, 30)), item('prev', Date.UTC(2025, 2, 10, 10, 0))],
    keep: keep({ daily: 2 }),
    tz: 'Europe/Berlin',
    expect: { local: ['prev'] },
  },
];

for (const c of cases) {
  test(`retention: ${c.name}`, () => {
    const plan = planRetention(c.items, c.keep, c.tz ? { timeZone: c.tz } : {});
    assert.deepEqual(Object.fromEntries(plan), c.expect);
  });
}

test('bucket keys: ISO weeks across a year boundary, hours in a zone', () => {
  assert.equal(bucketKeys(Date.UTC(2024, 11, 30)).weekly, '2025-W01'); // Monday 2024-12-30 belongs to 2025-W01
  assert.equal(bucketKeys(Date.UTC(2027, 0, 1)).weekly, '2026-W53');
  assert.equal(bucketKeys(Date.UTC(2025, 6, 1, 22, 15), 'Europe/Berlin').hourly, '2025-07-02T00');
  assert.equal(bucketKeys(Date.UTC(2025, 6, 1, 22, 15)).monthly, '2025-07');
});
