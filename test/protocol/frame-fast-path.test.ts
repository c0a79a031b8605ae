/**
 * protocol/frame-fast-path.ts must agree with zod: whenever the fast path
 * accepts a value, the zod schema accepts it too and produces an equal frame;
 * valid hot frames do take the fast path. Checked on hand-picked edge cases
 * and on seeded mutations of valid frames (FUZZ_SEED / FUZZ_ITERATIONS as in
 * test/fuzz).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckSchema, CancelSchema, ReqSchema, ResSchema, encodeFrame, parseFrame, type Frame } from '../../protocol/index.ts';
import { fastFrame } from '../../protocol/frame-fast-path.ts';
import { safeParse } from '../../protocol/safe-parse.ts';
import { allFrames } from '../fuzz/corpus.ts';
import { createRng, mutateValue, randomJson } from '../fuzz/fuzz-kit.ts';

const schemas = { req: ReqSchema, res: ResSchema, ack: AckSchema, cancel: CancelSchema } as const;
type HotType = keyof typeof schemas;
const isHot = (t: unknown): t is HotType => typeof t === 'string' && Object.hasOwn(schemas, t);

/** The property: fast ⇒ zod accepts with the same output. Returns whether the fast path answered. */
function check(value: unknown, label: string): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const type = (value as { type?: unknown }).type;
  if (!isHot(type)) return false;
  const fast = fastFrame(type, value as Record<string, unknown>);
  if (!fast) return false;
  const slow = safeParse(schemas[type], value);
  assert.ok(slow.success, `fast path accepted what zod rejects (${label}): ${JSON.stringify(value)?.slice(0, 300)}`);
  assert.deepStrictEqual(fast, slow.data, `fast path and zod disagree on the output (${label})`);
  return true;
}

const valid: Frame[] = [
  { type: 'req', id: 'a', method: 'agent.ping', params: {}, timeoutMs: 1 },
  { type: 'req', id: 'x'.repeat(64), method: 'm'.repeat(64), params: null, timeoutMs: 24 * 3600_000 },
  { type: 'req', id: 'r', method: 'server.start', params: [1, 'two', { three: 3 }], timeoutMs: 30_000 },
  { type: 'res', id: 'r', ok: true, result: { now: 1 } },
  { type: 'res', id: 'r', ok: true, result: null },
  { type: 'res', id: 'r', ok: true, result: 0 },
  { type: 'ack', seq: 0 },
  { type: 'ack', seq: Number.MAX_SAFE_INTEGER },
  { type: 'cancel', id: 'c'.repeat(64) },
];

test('valid hot frames take the fast path and equal what zod makes of them', () => {
  for (const frame of valid) {
    const value = JSON.parse(encodeFrame(frame)) as unknown;
    assert.ok(check(value, frame.type), `${JSON.stringify(frame).slice(0, 80)} should take the fast path`);
    const parsed = parseFrame(encodeFrame(frame));
    assert.ok(parsed.ok);
    assert.deepStrictEqual(parsed.frame, safeParse(schemas[frame.type as HotType], value).data);
  }
});

test('edge cases the fast path must leave to zod (or accept exactly as zod does)', () => {
  const cases: string[] = [
    '{"type":"req","id":"","method":"m","params":{},"timeoutMs":1}',
    `{"type":"req","id":"${'x'.repeat(65)}","method":"m","params":{},"timeoutMs":1}`,
    '{"type":"req","id":"a","method":"","params":{},"timeoutMs":1}',
    '{"type":"req","id":"a","method":"m","timeoutMs":1}',
    '{"type":"req","id":"a","method":"m","params":{},"timeoutMs":0}',
    '{"type":"req","id":"a","method":"m","params":{},"timeoutMs":-0}',
    '{"type":"req","id":"a","method":"m","params":{},"timeoutMs":1.5}',
    '{"type":"req","id":"a","method":"m","params":{},"timeoutMs":1e999}',
    '{"type":"req","id":"a","method":"m","params":{},"timeoutMs":86400001}',
    '{"type":"req","id":"a","method":"m","params":{},"timeoutMs":"5"}',
    '{"type":"req","id":1,"method":"m","params":{},"timeoutMs":5}',
    '{"type":"req","id":"a","method":"m","params":{},"timeoutMs":5,"extra":1,"__proto__":{"polluted":true}}',
    '{"type":"res","id":"a","ok":true}',
    '{"type":"res","id":"a","ok":"true","result":1}',
    '{"type":"res","id":"a","ok":1,"result":1}',
    '{"type":"res","id":"a","ok":false,"error":{"code":"BUSY","message":"m","retryable":true}}',
    '{"type":"res","id":"a","ok":true,"result":1,"error":{"code":"nope"}}',
    '{"type":"ack","seq":-1}',
    '{"type":"ack","seq":-0}',
    '{"type":"ack","seq":9007199254740992}',
    '{"type":"ack","seq":1.0000001}',
    '{"type":"ack"}',
    '{"type":"cancel"}',
    '{"type":"cancel","id":["a"]}',
  ];
  for (const raw of cases) {
    check(JSON.parse(raw), raw);
    // Whatever path it takes, parseFrame agrees with zod on accept/reject.
    const value = JSON.parse(raw) as { type: HotType };
    assert.equal(parseFrame(raw).ok, safeParse(schemas[value.type], value).success, raw);
  }
  // Extra keys are dropped, as zod drops them; nothing leaks onto Object.prototype.
  const parsed = parseFrame('{"type":"req","id":"a","method":"m","params":{},"timeoutMs":5,"extra":1,"__proto__":{"polluted":true}}');
  assert.ok(parsed.ok);
  assert.deepStrictEqual(Object.keys(parsed.frame), ['type', 'id', 'method', 'params', 'timeoutMs']);
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
});

test('seeded mutations: the fast path never accepts what zod rejects, nor differs from it', () => {
  const seed = Number(process.env.FUZZ_SEED ?? 7);
  const iterations = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
  const rng = createRng(seed);
  const seeds = [...allFrames(), ...valid].filter((f) => isHot(f.type)).map((f) => encodeFrame(f));
  let fastHits = 0;
  for (let i = 0; i < iterations; i++) {
    let v: unknown = JSON.parse(rng.pick(seeds));
    const n = rng.range(0, 3);
    for (let k = 0; k < n; k++) v = mutateValue(rng, v);
    if (i % 10 === 0 && v && typeof v === 'object' && !Array.isArray(v)) {
      // Swap in random JSON for one field: strings, numbers, objects where a number or string belongs.
      const keys = Object.keys(v);
      const key = rng.pick(keys.length ? keys : ['id']);
      (v as Record<string, unknown>)[key] = randomJson(rng, 2);
    }
    // Round-trip through JSON text, as a frame arrives.
    let text: string | undefined;
    try {
      text = JSON.stringify(v);
    } catch {
      continue;
    }
    if (text === undefined) continue;
    if (check(JSON.parse(text), `seed ${seed} iteration ${i}`)) fastHits++;
  }
  // Unmutated seeds (n = 0) alone make sure the fast path was exercised.
  assert.ok(fastHits > iterations / 10, `fast path taken only ${fastHits} times`);
});

test('encodeFrame writes hot frames by hand but means the same JSON', () => {
  const frames: Frame[] = [
    ...valid,
    { type: 'req', id: 'q"uote\\', method: 'm\u2028', params: { date: new Date(0) as unknown as string, s: '\ud800' }, timeoutMs: 5 },
    { type: 'req', id: 'u', method: 'm', params: undefined, timeoutMs: 5 },
    { type: 'res', id: 'r', ok: true, result: undefined },
    { type: 'res', id: 'r', ok: false, error: { code: 'BUSY', message: 'm', retryable: true } },
  ];
  for (const f of frames) assert.deepStrictEqual(JSON.parse(encodeFrame(f)), JSON.parse(JSON.stringify(f)), JSON.stringify(f));
});
