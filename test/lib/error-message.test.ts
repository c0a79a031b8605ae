import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCodeOrMessage, errorMessage } from '../../lib/error-message.ts';

test('errorMessage: an Error gives its message, anything else thrown its text (never "undefined" for a thrown string)', () => {
  assert.equal(errorMessage(new Error('disk full')), 'disk full');
  assert.equal(errorMessage('plain string'), 'plain string');
  assert.equal(errorMessage(42), '42');
  assert.equal(errorMessage(undefined), 'undefined');
  assert.equal(errorMessage(null), 'null');
});

test('errorCodeOrMessage: a system error names its code, others their message', () => {
  const enoent = Object.assign(new Error('ENOENT: no such file or directory, open x'), { code: 'ENOENT' });
  assert.equal(errorCodeOrMessage(enoent), 'ENOENT');
  assert.equal(errorCodeOrMessage(new Error('no code')), 'no code');
  assert.equal(errorCodeOrMessage(Object.assign(new Error('empty code'), { code: '' })), 'empty code');
  assert.equal(errorCodeOrMessage('thrown text'), 'thrown text');
});
