import type { z } from 'zod';
import { AckSchema, CancelSchema, EvtSchema, HelloSchema, ReqSchema, RequestIdSchema, ResSchema, WelcomeSchema, type Frame } from './frame-schemas.ts';
import { safeParse } from './safe-parse.ts';
import { fastFrame } from './frame-fast-path.ts';
import { parseJsonBounded, topLevelStrings } from './json-bounds.ts';
import { firstIssue } from '../lib/zod-issue.ts';

const frameSchemas = {
  hello: HelloSchema,
  welcome: WelcomeSchema,
  req: ReqSchema,
  res: ResSchema,
  evt: EvtSchema,
  ack: AckSchema,
  cancel: CancelSchema,
} as const satisfies Record<Frame['type'], z.ZodType>;

/** `requestId`: the refused frame is a `req` with a usable id, so the receiver can answer it instead of leaving the caller to time out. */
export type FrameParseResult = { ok: true; frame: Frame } | { ok: false; error: string; requestId?: string };

const isRequestId = (v: unknown): v is string => typeof v === 'string' && RequestIdSchema.safeParse(v).success;

/** A refusal, with the request id when the frame names one (read from the value, never by parsing again). */
function refuse(error: string, fields: { type?: unknown; id?: unknown } | undefined): FrameParseResult {
  return fields?.type === 'req' && isRequestId(fields.id) ? { ok: false, error, requestId: fields.id } : { ok: false, error };
}

/**
 * Parses one text frame. Never throws: malformed input becomes a message the
 * receiver logs and answers, so a hostile peer cannot crash the process.
 */
export function parseFrame(raw: string | Buffer): FrameParseResult {
  // Depth first: everything after JSON.parse (zod, JSON.stringify, the store, the logger) may recurse over the value.
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const json = parseJsonBounded(text, 'frame');
  if (!json.ok) {
    // Too deep to parse, but its top level can still name a request to answer.
    const top = json.reason === 'depth' ? topLevelStrings(text) : undefined;
    return refuse(json.error, top && { type: top.get('type'), id: top.get('id') });
  }
  const value = json.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'frame must be a JSON object' };
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.hasOwn(frameSchemas, type)) {
    return { ok: false, error: `unknown frame type ${describeType(type)}` };
  }
  const fields = value as { type?: unknown; id?: unknown };
  // The hot RPC frames skip zod when a hand-written check proves them valid; anything else (and every error) is zod's.
  const fast = fastFrame(type, value as Record<string, unknown>);
  if (fast) return { ok: true, frame: fast };
  const parsed = safeParse(frameSchemas[type as Frame['type']], value);
  if (!parsed.success) {
    return refuse(`invalid ${type} frame at ${firstIssue(parsed.error)}`, fields);
  }
  return { ok: true, frame: parsed.data as Frame };
}

/** A short, flat description of a bad `type` for the error: never serializes the value itself. */
function describeType(type: unknown): string {
  if (typeof type === 'string') return JSON.stringify(type.slice(0, 40));
  if (type === null || typeof type !== 'object') return String(type);
  return Array.isArray(type) ? '(an array)' : '(an object)';
}

/**
 * One frame as JSON text. The two frames on every RPC's path are written by
 * hand around JSON.stringify of their free-form slot (about half the cost of
 * stringifying the whole object); the output parses to the same value.
 */
export function encodeFrame(frame: Frame): string {
  if (frame.type === 'req') {
    const params = frame.params === undefined ? undefined : JSON.stringify(frame.params);
    if (params !== undefined && typeof frame.id === 'string' && typeof frame.method === 'string' && Number.isSafeInteger(frame.timeoutMs)) {
      return `{"type":"req","id":${JSON.stringify(frame.id)},"method":${JSON.stringify(frame.method)},"params":${params},"timeoutMs":${frame.timeoutMs}}`;
    }
  } else if (frame.type === 'res' && frame.ok === true) {
    const result = frame.result === undefined ? undefined : JSON.stringify(frame.result);
    if (result !== undefined && typeof frame.id === 'string') return `{"type":"res","id":${JSON.stringify(frame.id)},"ok":true,"result":${result}}`;
  }
  // Anything else, or a slot JSON.stringify would drop (undefined, a function): exactly what JSON.stringify says.
  return JSON.stringify(frame);
}
