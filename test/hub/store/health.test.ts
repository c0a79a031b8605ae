import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreHealth, isStoreError } from '../../../hub/store/health.ts';

const busy = Object.assign(new Error('database is locked'), { name: 'SqliteError', code: 'SQLITE_BUSY' });
const corrupt = Object.assign(new Error('database disk image is malformed'), { name: 'SqliteError', code: 'SQLITE_CORRUPT' });

test('a failure holds until the same operation succeeds, or until holdMs passed without a repeat', () => {
  let now = 1_000_000;
  const h = new StoreHealth({ holdMs: 60_000, now: () => now });
  const changes: boolean[] = [];
  h.on('change', (faulty) => changes.push(faulty));
  assert.equal(h.current(), null);

  h.failed('record', busy);
  h.failed('record', busy);
  now += 10;
  h.failed('write', corrupt);
  assert.deepEqual(changes, [true], 'one transition, however many failures');
  assert.equal(h.current()?.op, 'write', 'the most recent fault is reported');
  h.succeeded('write');
  assert.deepEqual({ ...h.current(), since: undefined }, { op: 'record', code: 'SQLITE_BUSY', message: 'database is locked', since: undefined, count: 2 });
  h.succeeded('probe');
  assert.equal(h.faulty, true, 'another operation succeeding does not clear a failing one');

  now += 59_000;
  assert.equal(h.faulty, true);
  now += 2000;
  assert.equal(h.current(), null, 'a failure nobody retried ages out');
  assert.deepEqual(changes, [true, false]);

  h.failed('record', busy);
  assert.equal(h.current()?.count, 1, 'a new run of failures counts from one');
  h.succeeded('record');
  assert.equal(h.faulty, false);
  assert.deepEqual(changes, [true, false, true, false]);
});

test('only failures of the store itself count as store errors', () => {
  assert.equal(isStoreError(busy), true);
  assert.equal(isStoreError(Object.assign(new Error('disk'), { code: 'SQLITE_FULL' })), true);
  assert.equal(isStoreError(new TypeError('The database connection is not open')), false);
  assert.equal(isStoreError(new RangeError('bug')), false);
  assert.equal(isStoreError(null), false);
});
