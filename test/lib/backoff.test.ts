import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, DefaultBackoffOptions } from '../../lib/backoff.ts';

test('defaults follow design.md §5: 1 s base, 60 s cap, reset after a healthy minute', () => {
  assert.equal(DefaultBackoffOptions.baseMs, 1_000);
  assert.equal(DefaultBackoffOptions.capMs, 60_000);
  assert.equal(DefaultBackoffOptions.healthyResetMs, 60_000);
});

test('the window doubles from the base and stops at the cap', () => {
  const top = new Backoff({ random: () => 0.999_999 });
  const delays = Array.from({ length: 9 }, () => top.next(0));
  assert.deepEqual(delays, [999, 1999, 3999, 7999, 15999, 31999, 59999, 59999, 59999]);
  const bottom = new Backoff({ random: () => 0 });
  assert.deepEqual(Array.from({ length: 4 }, () => bottom.next(0)), [0, 0, 0, 0]);
});

test('full jitter: delays spread over the whole window, never past it', () => {
  let x = 12345;
  const lcg = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const delays: number[] = [];
  for (let run = 0; run < 200; run++) {
    const b = new Backoff({ random: lcg });
    for (let i = 0; i < 5; i++) b.next(0);
    const d = b.next(0); // 6th attempt: window 32 s
    assert.ok(d >= 0 && d < 32_000, `delay ${d} outside [0, 32000)`);
    delays.push(d);
  }
  // Spread, not clustered: both halves of the window are used.
  assert.ok(delays.some((d) => d < 16_000) && delays.some((d) => d >= 16_000));
  assert.ok(new Set(delays).size > 150);
});

test('the attempt counter resets only after the link stayed up for healthyResetMs', () => {
  const b = new Backoff({ random: () => 0.5 });
  b.next(0);
  b.next(0);
  b.next(0);
  assert.equal(b.attempt, 3);
  b.connected(10_000);
  assert.equal(b.next(10_000 + 59_999), 4_000, 'a short-lived connection keeps growing the window');
  assert.equal(b.attempt, 4);
  b.connected(100_000);
  assert.equal(b.next(160_000), 500, 'a healthy minute starts again from the base');
  assert.equal(b.attempt, 1);
  // connected() is consumed by next(): a later failure without a new connection keeps counting.
  assert.equal(b.next(500_000), 1_000);
});

test('reset() and bad options', () => {
  const b = new Backoff({ random: () => 0.5 });
  b.next(0);
  b.next(0);
  b.reset();
  assert.equal(b.attempt, 0);
  assert.equal(b.ceilingMs, 1_000);
  assert.throws(() => new Backoff({ baseMs: 0 }), RangeError);
  assert.throws(() => new Backoff({ baseMs: 10, capMs: 5 }), RangeError);
  const many = new Backoff({ random: () => 0.5 });
  for (let i = 0; i < 2000; i++) many.next(0);
  assert.equal(many.next(0), 30_000, 'no overflow to Infinity/NaN after many attempts');
});

test('equal jitter waits in the upper half of the window, doubling to the cap', () => {
  const low = new Backoff({ baseMs: 40, capMs: 160, jitter: 'equal', random: () => 0 });
  assert.deepEqual(Array.from({ length: 4 }, () => low.next(0)), [20, 40, 80, 80]);
  const mid = new Backoff({ baseMs: 40, capMs: 160, jitter: 'equal', random: () => 0.5 });
  assert.deepEqual(Array.from({ length: 4 }, () => mid.next(0)), [30, 60, 120, 120]);
  const top = new Backoff({ baseMs: 40, capMs: 160, jitter: 'equal', random: () => 0.999_999 });
  assert.deepEqual(Array.from({ length: 4 }, () => top.next(0)), [39, 79, 159, 159]);
});
