import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripUndefined } from '../../lib/strip-undefined.ts';

test('a key passed as undefined keeps the default; null and falsy values are kept', () => {
  const defaults = { timeoutMs: 1000, retries: 3, name: 'x', flag: true };
  const options: { timeoutMs?: number | undefined; retries?: number | null; name?: string; flag?: boolean } = { timeoutMs: undefined, retries: 0, name: '', flag: false };
  assert.deepEqual({ ...defaults, ...stripUndefined(options) }, { timeoutMs: 1000, retries: 0, name: '', flag: false });
  assert.deepEqual(stripUndefined({ a: undefined, b: null }), { b: null });
  assert.equal(Object.hasOwn(stripUndefined({ a: undefined }), 'a'), false);
});
