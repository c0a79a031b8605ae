import { MAX_REQUEST_TIMEOUT_MS, METHOD_MAX_CHARS, REQUEST_ID_MAX_CHARS, type Ack, type Cancel, type Req, type Res } from './frame-schemas.ts';

/**
 * Hand-written checks for the frames on every RPC's path (`req`, `res` with
 * ok:true, `ack`, `cancel`), which otherwise cost a zod object parse each.
 *
 * Contract: for a value fresh from JSON.parse, `fastFrame` returns a frame
 * only when the zod schema in frame-schemas.ts would accept the value and produce an
 * equal output (same keys, unknown keys dropped, free-form slots passed
 * through as they are). Whenever it is not sure it returns undefined and the
 * caller runs zod, so every rejection and every error message still come
 * from zod. test/protocol/frame-fast-path.test.ts checks both directions on
 * valid frames and on hundreds of thousands of mutated ones.
 *
 * Keep it in step with ReqSchema, ResSchema, AckSchema and CancelSchema.
 */

// The bounds are frame-schemas.ts' own constants, so a changed limit changes both paths.
const MAX_ID = REQUEST_ID_MAX_CHARS;
const MAX_METHOD = METHOD_MAX_CHARS;
const MAX_TIMEOUT_MS = MAX_REQUEST_TIMEOUT_MS;

type Obj = Record<string, unknown>;

const isRequestId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= MAX_ID;

export function fastFrame(type: string, v: Obj): Req | Res | Ack | Cancel | undefined {
  switch (type) {
    case 'req': {
      const { id, method, timeoutMs } = v;
      if (!isRequestId(id)) return undefined;
      if (typeof method !== 'string' || method.length < 1 || method.length > MAX_METHOD) return undefined;
      // Number.isInteger also rules out NaN and ±Infinity (JSON's 1e999); the bounds keep it a safe integer.
      if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) return undefined;
      // zod requires the key to be present even for z.unknown().
      if (!Object.hasOwn(v, 'params')) return undefined;
      return { type: 'req', id, method, params: v.params, timeoutMs };
    }
    case 'res': {
      // Errors are rare and their shape is richer: zod handles ok:false.
      if (v.ok !== true || !isRequestId(v.id) || !Object.hasOwn(v, 'result')) return undefined;
      return { type: 'res', id: v.id, ok: true, result: v.result };
    }
    case 'ack': {
      const seq = v.seq;
      // z.number().int().nonnegative(): a safe integer ≥ 0 (zod keeps -0 as it is, and so do we).
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
      return { type: 'ack', seq };
    }
    case 'cancel': {
      if (!isRequestId(v.id)) return undefined;
      return { type: 'cancel', id: v.id };
    }
    default:
      return undefined;
  }
}
