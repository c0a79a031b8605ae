/**
 * Fuzzing protocol/frames.ts parseFrame: random bytes, random JSON, and
 * mutations of valid frames of every type (bit flips, truncation, type swaps,
 * huge numbers, deep nesting, prototype keys). parseFrame must never throw;
 * it returns {ok:false, error} with a short message, or a frame that
 * survives encodeFrame → parseFrame unchanged. No built-in prototype may change.
 *
 *   FUZZ_SEED=123 FUZZ_ITERATIONS=200000 node --import tsx --test test/fuzz/frames.test.ts
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_JSON_DEPTH, encodeFrame, parseFrame, type FrameParseResult } from '../../protocol/index.ts';
import { allFrames } from './corpus.ts';
import { HOSTILE_LENGTH } from './fuzz-kit.ts';
import { deepenText, deepJsonText, describeError, fuzzRun, iterationRng, mutateText, mutateValue, preview, protoGuard, randomBytes, randomJson, randomKey, defineOwn, type Rng } from './fuzz-kit.ts';

const FRAME_TYPES = new Set(['hello', 'welcome', 'req', 'res', 'evt', 'ack', 'cancel']);
/** Longest error we accept: the session logs it and echoes up to 500 chars back. */
const MAX_ERROR_CHARS = 1000;
const corpus = allFrames();
const corpusText = corpus.map((f) => encodeFrame(f));

type Input = { raw: string | Buffer };

/** One input; the generator kind rotates so every run covers all of them. */
function makeInput(rng: Rng, i: number): Input {
  switch (i % 6) {
    case 0:
      return { raw: randomBytes(rng, 200) };
    case 1: { // a random object that claims to be a frame, so zod gets to see it
      const o = randomJson(rng, 3);
      if (o && typeof o === 'object' && !Array.isArray(o) && rng.chance(0.8)) defineOwn(o as Record<string, unknown>, 'type', rng.pick([...FRAME_TYPES, randomKey(rng)]));
      return { raw: JSON.stringify(o) ?? 'null' };
    }
    case 2:
    case 3: { // structural mutations of a valid frame, 1–3 in a row
      let v: unknown = JSON.parse(rng.pick(corpusText));
      for (let n = rng.range(1, 3); n > 0; n--) v = mutateValue(rng, v);
      return { raw: safeStringify(v) ?? rng.pick(corpusText) };
    }
    case 4: { // textual mutations of a valid frame
      let s = rng.pick(corpusText);
      for (let n = rng.range(1, 3); n > 0; n--) s = mutateText(rng, s);
      return { raw: rng.chance(0.3) ? Buffer.from(s, 'latin1') : s };
    }
    default: { // deep nesting in any slot, `type` and the free-form ones included (every 4th such input: they are slow to build)
      if (i % 24 !== 5) return { raw: rng.pick(corpusText) };
      if (rng.chance(0.5)) return { raw: deepenText(rng, rng.pick(corpusText)) };
      const frame = JSON.parse(rng.pick(corpusText)) as Record<string, unknown>;
      const slot = rng.pick(['type', 'params', 'result', 'data', 'servers', 'error', 'capabilities', 'id', 'seq', 'topic']);
      delete frame[slot];
      const nested = deepJsonText(rng.pick([MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, 5_000, 50_000, 200_000]), rng.chance(0.5) ? '{}' : '1', rng.chance(0.5));
      return { raw: `${JSON.stringify(frame).slice(0, -1)},"${slot}":${nested}}` };
    }
  }
}

function safeStringify(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined; // too deep for the engine's recursive stringify
  }
}

/** Deepest bracket nesting of a JSON text (outside strings). */
function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function check(result: FrameParseResult, input: Input): void {
  assert.equal(typeof result, 'object');
  const depth = nestingDepth(typeof input.raw === 'string' ? input.raw : input.raw.toString('utf8'));
  if (depth > MAX_JSON_DEPTH) {
    // Refused on its depth, whatever else is wrong with it: nothing may walk it first.
    assert.equal(result.ok, false, `a frame ${depth} levels deep was accepted`);
    assert.match((result as { error: string }).error, new RegExp(`^frame nested deeper than ${MAX_JSON_DEPTH} levels$`));
    return;
  }
  if (!result.ok) {
    assert.equal(typeof result.error, 'string');
    assert.ok(result.error.length > 0, 'empty error message');
    assert.ok(result.error.length <= MAX_ERROR_CHARS, `error message of ${result.error.length} chars`);
    return;
  }
  assert.ok(FRAME_TYPES.has(result.frame.type), `unknown frame type ${result.frame.type}`);
  // Accepted frames are at most MAX_JSON_DEPTH deep, so re-encoding and comparing (both recursive) are safe.
  const again = parseFrame(encodeFrame(result.frame));
  assert.ok(again.ok, `a parsed frame does not parse again: ${again.ok ? '' : again.error}`);
  assert.deepEqual(again.frame, JSON.parse(encodeFrame(result.frame)));
}

test('every corpus frame parses (the fuzzer starts from valid input)', () => {
  for (const text of corpusText) {
    const r = parseFrame(text);
    assert.ok(r.ok, `${text}: ${r.ok ? '' : r.error}`);
  }
});

test('parseFrame never throws and never pollutes prototypes', (t) => {
  const run = fuzzRun(t, 'parseFrame', 40_000);
  const guard = protoGuard();
  let ok = 0;
  for (let i = 0; i < run.iterations; i++) {
    const rng = iterationRng(run.seed, i);
    const input = makeInput(rng, i);
    let result: FrameParseResult;
    try {
      result = parseFrame(input.raw);
      check(result, input);
      if (i % 512 === 0) guard();
    } catch (err) {
      throw new Error(`${run.where(i)}: ${describeError(err)}\n  input: ${preview(input.raw)}`, { cause: err });
    }
    if (result.ok) ok++;
  }
  guard();
  t.diagnostic(`${ok} of ${run.iterations} inputs were valid frames`);
  // Mutations keep some frames valid; if none are, the generator is broken and the run proves little.
  assert.ok(ok > run.iterations / 50, `only ${ok} valid frames out of ${run.iterations}`);
});

test('prototype keys inside a valid frame stay plain data', () => {
  const guard = protoGuard();
  const texts = [
    '{"type":"req","id":"a","method":"agent.ping","params":{"__proto__":{"polluted":"yes"}},"timeoutMs":5}',
    '{"type":"res","id":"a","ok":true,"result":{"constructor":{"prototype":{"polluted":"yes"}}}}',
    '{"__proto__":{"type":"ack","seq":1}}',
    '{"type":"ack","seq":1,"__proto__":{"polluted":"yes"}}',
    '{"type":"hello","agentId":"a","agentVersion":"1","protocol":1,"servers":[{"__proto__":{"id":"x","game":"g","name":"n","managed":true}}],"capabilities":[]}',
  ];
  const results = texts.map((s) => parseFrame(s));
  guard();
  assert.equal(results[2]!.ok, false, 'fields inherited through __proto__ must not count');
  assert.equal(results[4]!.ok, false, 'a server summary made only of an own __proto__ key is not a summary');
  const res = results[1]!;
  assert.ok(res.ok && res.frame.type === 'res' && res.frame.ok);
});

test('strings that are objects with a hostile length are refused, not thrown on', () => {
  // Found by this fuzzer (zod 4.6.7 length checks run on non-strings). Thrown inside the hub's
  // ws message handler, this one frame from any authenticated agent ended the hub process.
  const bad = JSON.stringify(HOSTILE_LENGTH);
  const texts = [
    `{"type":"hello","agentId":${bad},"agentVersion":"1","protocol":1,"servers":[],"capabilities":[]}`,
    `{"type":"req","id":"a","method":${bad},"params":{},"timeoutMs":5}`,
    `{"type":"cancel","id":${bad}}`,
    `{"type":"res","id":"a","ok":false,"error":{"code":"BUSY","message":${bad},"retryable":true}}`,
    `{"type":"evt","topic":"alert","seq":1,"data":{"serverId":${bad},"kind":"crashed","message":"m","at":"t"}}`,
  ];
  for (const text of texts) {
    let result: FrameParseResult | undefined;
    assert.doesNotThrow(() => {
      result = parseFrame(text);
    }, text);
    assert.equal(result?.ok, false, text);
  }
});
