import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCatalog, ReconSyncError, toRpcError, errorCodes } from '../../protocol/index.ts';

test('every error code has an HTTP status in the 4xx/5xx range and a hint that says what to do', () => {
  for (const code of errorCodes) {
    const entry = ErrorCatalog[code];
    assert.ok(entry.httpStatus >= 400 && entry.httpStatus < 600, code);
    assert.ok(entry.hint.length > 20, `${code} needs a useful hint`);
  }
});

test('design.md §4a statuses: 404 unknown server, 409 busy, 503 offline, 504 timeout', () => {
  assert.equal(new ReconSyncError('UNKNOWN_SERVER').httpStatus, 404);
  assert.equal(new ReconSyncError('BUSY').httpStatus, 409);
  assert.equal(new ReconSyncError('AGENT_OFFLINE').httpStatus, 503);
  assert.equal(new ReconSyncError('TIMEOUT').httpStatus, 504);
});

test('unknown errors become INTERNAL without a stack trace', () => {
  const shape = toRpcError(new TypeError('boom'));
  assert.deepEqual(shape, { code: 'INTERNAL', message: 'boom', retryable: false });
  assert.equal(ReconSyncError.from({ code: 'BUSY', message: 'x', retryable: true }).code, 'BUSY');
});
