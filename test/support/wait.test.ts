import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { waitFor } from './wait.ts';

test('waitFor resolves with the first truthy value, polling without a wake source', async () => {
  let n = 0;
  assert.equal(await waitFor(() => (++n >= 3 ? `done after ${n}` : null), { everyMs: 1 }), 'done after 3');
});

test('waitFor re-checks on each wake event and leaves no listener behind', async () => {
  const emitter = new EventEmitter();
  let state = 0;
  const waiting = waitFor(() => state === 2 && 'two', { wakeOn: { emitter, events: ['change', 'other'] }, timeoutMs: 2000 });
  for (let i = 0; i < 2; i++) {
    await new Promise((r) => setImmediate(r));
    state++;
    emitter.emit('change');
  }
  assert.equal(await waiting, 'two');
  assert.equal(emitter.listenerCount('change') + emitter.listenerCount('other'), 0);
});

test('waitFor fails after the deadline naming what it waited for, what it saw and the probe\'s last error', async () => {
  await assert.rejects(
    waitFor(() => { throw new Error('not yet'); }, { timeoutMs: 50, what: 'the thing', detail: () => 'saw nothing' }),
    /timed out after 50 ms waiting for the thing; saw nothing \(last error: not yet\)/,
  );
  await assert.rejects(waitFor(() => false, 30, 'positional form'), /timed out after 30 ms waiting for positional form/);
});

test('waitFor ends with the caller\'s signal reason when that fires first', async () => {
  const ctrl = new AbortController();
  const emitter = new EventEmitter();
  const waiting = waitFor(() => false, { signal: ctrl.signal, wakeOn: { emitter, events: ['change'] } });
  ctrl.abort(new Error('test over'));
  await assert.rejects(waiting, /test over/);
});
