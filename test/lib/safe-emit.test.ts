import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../lib/logger.ts';
import { safeEmit } from '../../lib/safe-emit.ts';

interface Events { done: [id: string, n: number] }

test('a listener that throws is logged, not thrown into the emitter; later emits reach their listeners', () => {
  const lines: Array<{ event?: string; err?: { message?: string }; msg?: string }> = [];
  const destination = new Writable({ write: (c: Buffer, _e, cb) => { lines.push(JSON.parse(c.toString())); cb(); } });
  const log = createLogger({ level: 'info', destination });
  const emitter = new EventEmitter<Events>();
  emitter.on('done', () => { throw new Error('listener bug'); });
  assert.doesNotThrow(() => safeEmit(emitter, log, 'done', 'a', 1));
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.event, 'done');
  assert.match(lines[0]!.err?.message ?? '', /listener bug/);

  const seen: Array<[string, number]> = [];
  emitter.removeAllListeners();
  emitter.on('done', (id, n) => void seen.push([id, n]));
  safeEmit(emitter, log, 'done', 'b', 2);
  assert.deepEqual(seen, [['b', 2]]);
  assert.equal(lines.length, 1);
});
