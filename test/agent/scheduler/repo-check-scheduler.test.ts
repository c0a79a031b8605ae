import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RepoCheckScheduler } from '../../../agent/scheduler/repo-check-scheduler.ts';
import { FakeClock } from '../../support/fake-clock.ts';

const HOUR = 3_600_000;

test('the restic repository check runs at each slot of its cron expression (weekly by default), by the injected clock; a failed run does not stop the next', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12, 0)); // a Thursday
  const runs: string[] = [];
  const s = new RepoCheckScheduler({
    schedule: '0 4 * * 0', timezone: 'UTC', clock,
    run: async () => {
      runs.push(new Date(clock.now()).toISOString());
      if (runs.length === 1) throw new Error('restic check failed to start');
    },
  });
  s.start();
  t.after(() => s.stop());
  const wait = AbortSignal.timeout(10_000);
  await clock.sleeping(wait);
  await clock.advance(2 * 24 * HOUR); // Saturday noon: not yet
  assert.deepEqual(runs, []);
  await clock.advance(16 * HOUR); // Sunday 04:00
  assert.deepEqual(runs, ['2026-01-04T04:00:00.000Z']);
  await clock.advance(7 * 24 * HOUR);
  assert.deepEqual(runs, ['2026-01-04T04:00:00.000Z', '2026-01-11T04:00:00.000Z']);
});

test('a bad restic.check expression is refused naming the key', () => {
  const s = new RepoCheckScheduler({ schedule: 'every sunday', run: async () => undefined });
  assert.throws(() => s.start(), /restic\.check "every sunday" is not a valid cron expression/);
});
