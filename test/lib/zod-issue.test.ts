import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { firstIssue, issueLines, issuePath, issueText } from '../../lib/zod-issue.ts';

const Schema = z.object({ servers: z.array(z.object({ port: z.number() })) }).strict();

test('an issue reads "path: message", dotted, with (root) for the value itself', () => {
  const bad = Schema.safeParse({ servers: [{ port: 1 }, { port: 'x' }] });
  assert.ok(!bad.success);
  assert.match(firstIssue(bad.error), /^servers\.1\.port: /);
  const root = Schema.safeParse('nope');
  assert.ok(!root.success);
  assert.match(firstIssue(root.error), /^\(root\): /);
  assert.equal(issueText(undefined), '(root): invalid');
});

test('every issue gets its own line', () => {
  const bad = Schema.safeParse({ servers: [{ port: 'a' }, { port: 'b' }] });
  assert.ok(!bad.success);
  assert.deepEqual(issueLines(bad.error).map((l) => l.split(':')[0]), ['servers.0.port', 'servers.1.port']);
});

test('a symbol in the path is named, not a TypeError (Array.join cannot convert a symbol)', () => {
  const issue: z.core.$ZodIssue = { code: 'custom', message: 'bad', path: ['a', Symbol('k')], input: undefined };
  assert.equal(issuePath(issue), 'a.Symbol(k)');
});

test('the text stays short when the input is long: an unknown key is echoed cut, not whole', () => {
  const key = 'k'.repeat(8000);
  const bad = Schema.safeParse({ servers: [], [key]: 1 });
  assert.ok(!bad.success);
  const text = firstIssue(bad.error);
  assert.ok(text.length < 400, `${text.length} characters`);
  assert.match(text, /^\(root\): unknown key "k{100}… \(8000 characters\)"$/);
});
