import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GAP_LINE, newLines, takeMessage } from '../../../hub/discord/log-follow.ts';

test('newLines: what a fresh tail adds to the previous one', () => {
  assert.deepEqual(newLines([], ['a', 'b']), ['a', 'b'], 'first read: everything');
  assert.deepEqual(newLines(['a', 'b'], ['a', 'b']), [], 'nothing new');
  assert.deepEqual(newLines(['a', 'b'], ['a', 'b', 'c']), ['c'], 'the tail grew');
  assert.deepEqual(newLines(['a', 'b', 'c'], ['b', 'c', 'd']), ['d'], 'a full tail moved on by one');
  assert.deepEqual(newLines(['a', 'b'], ['x', 'y']), [GAP_LINE, 'x', 'y'], 'no overlap: more came than a tail holds, said with a gap line');
  assert.deepEqual(newLines(['x', 'a', 'a'], ['a', 'a', 'b']), ['b'], 'repeated lines: the longest overlap wins');
});

test('takeMessage: one code block within the limit, long lines cut, the rest left pending', () => {
  const pending = ['one', 'two ```x```', 'y'.repeat(50)];
  const first = takeMessage(pending, 30)!;
  assert.equal(first, '```\none\ntwo ˋˋˋxˋˋˋ\n```');
  assert.equal(pending.length, 1);
  const cut = takeMessage(pending, 30)!;
  assert.ok(cut.length <= 30 && cut.endsWith('…\n```'), cut);
  assert.deepEqual(pending, []);
  assert.equal(takeMessage(pending, 30), null);
});
