import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { z } from 'zod';
import { apiBodySchemas } from '../../../hub/http/api.ts';
import { agentMethods } from '../../../protocol/index.ts';

/** Keys the URL (serverId) or the hub itself (actor: who asked) supplies; a caller must not set them. */
const supplied = new Set(['serverId', 'actor']);

// Each body takes every param but these, so a param protocol/ gains fails here until the API passes it on (or lists it).
test('API request bodies are the agent method params (same field schemas), not copies that can drift', () => {
  for (const [method, body] of Object.entries(apiBodySchemas)) {
    const params = agentMethods[method as keyof typeof apiBodySchemas].params as z.ZodObject;
    const bodyShape = (body as z.ZodObject).shape;
    const expected = Object.keys(params.shape).filter((k) => !supplied.has(k)).sort();
    assert.deepEqual(Object.keys(bodyShape).sort(), expected, `${method}: body keys`);
    for (const key of expected) assert.equal(bodyShape[key], params.shape[key], `${method}.${key}: a copy, not protocol's schema`);
  }
});

test('a body refuses the keys the hub supplies and unknown keys', () => {
  assert.equal(apiBodySchemas['update.apply'].safeParse({ actor: 'someone-else' }).success, false);
  assert.equal(apiBodySchemas['backup.restore'].safeParse({ backupId: 'b1', serverId: 'other' }).success, false);
  assert.equal(apiBodySchemas['backup.create'].safeParse({ note: 'x', extra: 1 }).success, false);
  assert.equal(apiBodySchemas['backup.restore'].safeParse({ backupId: 'b1', from: '' }).success, false);
});
