import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestartPolicy } from '../../../agent/supervisor/restart-policy.ts';

const MIN = 60_000;

test('backoff doubles per restart in the window and is capped', () => {
  const p = new RestartPolicy({ maxPerHour: 10, backoffMs: 5000, maxBackoffMs: 30_000 });
  const delays = Array.from({ length: 5 }, (_, i) => {
    const d = p.next(i * 1000);
    assert.equal(d.action, 'restart');
    return d.action === 'restart' ? d.delayMs : -1;
  });
  assert.deepEqual(delays, [5000, 10_000, 20_000, 30_000, 30_000]);
});

test('at most maxPerHour restarts in a sliding hour, then give up; old restarts age out', () => {
  const p = new RestartPolicy({ maxPerHour: 3, backoffMs: 1000 });
  assert.deepEqual(p.next(0), { action: 'restart', delayMs: 1000, attempt: 1, max: 3 });
  assert.equal(p.next(10 * MIN).action, 'restart');
  assert.equal(p.next(20 * MIN).action, 'restart');
  assert.deepEqual(p.next(30 * MIN), { action: 'give_up', recent: 3, max: 3 });
  assert.equal(p.recent(59 * MIN), 3);
  // The first restart (t=0) leaves the window after an hour: one slot is free again.
  const d = p.next(60 * MIN + 1);
  assert.equal(d.action, 'restart');
  assert.equal(d.action === 'restart' && d.attempt, 3);
  assert.equal(p.next(60 * MIN + 2).action, 'give_up');
});

test('maxPerHour 0 never restarts; reset gives a fresh budget', () => {
  assert.equal(new RestartPolicy({ maxPerHour: 0, backoffMs: 1 }).next(0).action, 'give_up');
  const p = new RestartPolicy({ maxPerHour: 1, backoffMs: 1 });
  assert.equal(p.next(0).action, 'restart');
  assert.equal(p.next(1).action, 'give_up');
  p.reset();
  assert.equal(p.next(2).action, 'restart');
});
