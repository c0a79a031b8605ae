import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_JSON_DEPTH, jsonTextDepth, parseFrame, parseJsonBounded, topLevelStrings, valueDepth } from '../../protocol/index.ts';
import { createRng } from '../fuzz/fuzz-kit.ts';

const arrays = (n: number, inner = '1') => '['.repeat(n) + inner + ']'.repeat(n);
const objects = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

test('the premise: JSON.parse builds very deep values, JSON.stringify cannot walk them', () => {
  // If a Node upgrade makes JSON.parse recursive, the depth check must move before it everywhere; this says so.
  const v = JSON.parse(arrays(1_000_000)) as unknown;
  assert.ok(Array.isArray(v));
  assert.throws(() => JSON.stringify(JSON.parse(arrays(100_000))), RangeError);
});

test('jsonTextDepth counts brackets outside strings, exactly', () => {
  assert.equal(jsonTextDepth('1'), 0);
  assert.equal(jsonTextDepth('{}'), 1);
  assert.equal(jsonTextDepth('{"a":[1,{"b":[]}],"c":{}}'), 4);
  assert.equal(jsonTextDepth('"[[[[{{{{"'), 0);
  assert.equal(jsonTextDepth('["\\"[[[", "\\\\", [[]]]'), 3, 'escaped quotes and backslashes do not end a string early');
  assert.equal(jsonTextDepth('["\\u005b[["]'), 1);
  for (const n of [1, 10, MAX_JSON_DEPTH]) {
    assert.equal(jsonTextDepth(arrays(n)), n);
    assert.equal(jsonTextDepth(objects(n)), n);
  }
  // Stops counting once past the limit, so a megabyte of brackets costs no more than a few.
  assert.equal(jsonTextDepth(arrays(1_000_000)), MAX_JSON_DEPTH + 1);
  assert.equal(jsonTextDepth(arrays(20), 10), 11);
});

test('parseJsonBounded: the limit itself parses, one more level is refused with a clear error', () => {
  const at = parseJsonBounded(arrays(MAX_JSON_DEPTH), 'body');
  assert.equal(at.ok, true);
  const past = parseJsonBounded(objects(MAX_JSON_DEPTH + 1), 'request body');
  assert.deepEqual(past, { ok: false, reason: 'depth', error: `request body nested deeper than ${MAX_JSON_DEPTH} levels` });
  assert.deepEqual(parseJsonBounded('{nope', 'frame'), { ok: false, reason: 'syntax', error: 'frame is not valid JSON' });
  // Deep AND invalid: refused for its depth, before JSON.parse spends any time on it.
  assert.equal((parseJsonBounded(`${arrays(100)}x`, 'frame') as { reason: string }).reason, 'depth');
});

test('valueDepth walks without recursion and treats a cycle as too deep', () => {
  assert.equal(valueDepth(1), 0);
  assert.equal(valueDepth({ a: [1, { b: 2 }] }), 3);
  let deep: unknown = 1;
  for (let i = 0; i < 1_000_000; i++) deep = [deep];
  assert.equal(valueDepth(deep), MAX_JSON_DEPTH + 1);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(valueDepth(cyclic, 10), 11);
});

test('parseFrame refuses deep nesting in `type` and anywhere else, before any walk', () => {
  for (const depth of [MAX_JSON_DEPTH + 1, 5_000, 100_000, 400_000]) {
    for (const text of [
      `{"type":${arrays(depth)}}`,
      `{"type":${objects(depth)}}`,
      `{"type":"req","id":"a","method":"hub.ping","params":${arrays(depth)},"timeoutMs":5}`,
      `{"type":"evt","topic":"status","data":${objects(depth)}}`,
      arrays(depth),
    ]) {
      const r = parseFrame(text);
      assert.equal(r.ok, false, text.slice(0, 60));
      assert.equal((r as { error: string }).error, `frame nested deeper than ${MAX_JSON_DEPTH} levels`, text.slice(0, 60));
    }
  }
  // A non-string type is named by its kind, never serialized into the error.
  assert.deepEqual(parseFrame(`{"type":${arrays(3)}}`), { ok: false, error: 'unknown frame type (an array)' });
  assert.deepEqual(parseFrame(`{"type":{"a":1}}`), { ok: false, error: 'unknown frame type (an object)' });
  assert.deepEqual(parseFrame(`{"type":"${'x'.repeat(500)}"}`), { ok: false, error: `unknown frame type "${'x'.repeat(40)}"` });
  // Free-form slots up to the limit still pass (the frame's own object is one level).
  const ok = parseFrame(`{"type":"res","id":"a","ok":true,"result":${arrays(MAX_JSON_DEPTH - 1)}}`);
  assert.equal(ok.ok, true);
});

test('jsonTextDepth agrees with the parsed value on random JSON (strings full of quotes, backslashes, brackets)', () => {
  const rng = createRng(20261205);
  const nasty = ['\\', '"', '\\"', '\\\\', '[', ']', '{', '}', '\\[', 'x'];
  const str = () => Array.from({ length: rng.int(6) }, () => rng.pick(nasty)).join('');
  const value = (d: number): unknown => {
    if (d === 0 || rng.chance(0.3)) return rng.chance(0.5) ? str() : rng.int(100);
    if (rng.chance(0.5)) return Array.from({ length: rng.range(0, 3) }, () => value(d - 1));
    return Object.fromEntries(Array.from({ length: rng.range(0, 3) }, () => [str(), value(d - 1)]));
  };
  for (let i = 0; i < 5_000; i++) {
    const v = value(rng.int(12));
    const text = JSON.stringify(v);
    assert.equal(jsonTextDepth(text), valueDepth(v), text);
  }
});

test('topLevelStrings reads the top-level string fields without parsing nested values', () => {
  assert.deepEqual(topLevelStrings(`{"type":"req","id":"a\\"b","params":${arrays(500_000)},"n":1.5e3,"t":true,"o":{"id":"inner"}}`), new Map([['type', 'req'], ['id', 'a"b']]));
  assert.deepEqual(topLevelStrings(' { } '), new Map());
  assert.deepEqual(topLevelStrings('{"id":"x","id":"y"}')?.get('id'), 'y', 'the last duplicate wins, as in JSON.parse');
  assert.equal(topLevelStrings(`{"id":"${'x'.repeat(300)}"}`)?.has('id'), false, 'long strings are left out');
  for (const bad of ['', '[]', '"x"', '{"a"}', '{"a":1', '{"a":"x', '{"a":[1}', '{a:1}', '{"a":1,}']) assert.equal(topLevelStrings(bad), undefined, bad);
  // Agrees with JSON.parse on random objects (nested values full of quotes, brackets and backslashes).
  const rng = createRng(7);
  const nasty = ['\\', '"', '[', ']', '{', '}', ',', ':', 'x'];
  const str = () => Array.from({ length: rng.int(5) }, () => rng.pick(nasty)).join('');
  const value = (d: number): unknown => {
    const k = rng.int(d > 0 ? 6 : 4);
    if (k === 0) return str();
    if (k === 1) return rng.int(1000) - 500;
    if (k === 2) return rng.pick([true, false, null]);
    if (k === 3) return rng.next();
    if (k === 4) return Array.from({ length: rng.int(3) }, () => value(d - 1));
    return Object.fromEntries(Array.from({ length: rng.int(3) }, () => [str(), value(d - 1)]));
  };
  for (let i = 0; i < 3_000; i++) {
    const obj = Object.fromEntries(Array.from({ length: rng.int(5) }, () => [str(), value(3)]));
    const text = JSON.stringify(obj, null, rng.chance(0.3) ? 1 : undefined);
    const expected = new Map(Object.entries(obj).filter((e): e is [string, string] => typeof e[1] === 'string'));
    assert.deepEqual(topLevelStrings(text), expected, text);
  }
});

test('parseFrame names the request of a refused frame (deep or invalid), so it can be answered', () => {
  const deepReq = `{"type":"req","id":"r1","method":"hub.ping","params":${arrays(500_000)},"timeoutMs":5}`;
  assert.deepEqual(parseFrame(deepReq), { ok: false, error: `frame nested deeper than ${MAX_JSON_DEPTH} levels`, requestId: 'r1' });
  const badReq = parseFrame('{"type":"req","id":"r2","method":"","params":{},"timeoutMs":5}');
  assert.equal(badReq.ok === false && badReq.requestId, 'r2');
  for (const text of [`{"type":"res","id":"r3","ok":true,"result":${arrays(100)}}`, `{"type":"req","id":"${'x'.repeat(65)}","params":${arrays(100)}}`, `{"type":${arrays(100)},"id":"r4"}`]) {
    const r = parseFrame(text);
    assert.equal(r.ok, false);
    assert.equal((r as { requestId?: string }).requestId, undefined, text.slice(0, 50));
  }
});
