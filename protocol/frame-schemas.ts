import { z } from 'zod';
import { RpcErrorSchema } from './errors.ts';
import { eventTopics, type EventTopic } from './events.ts';
import { ServerSummarySchema, id } from './status.ts';

/**
 * What each frame is: its schema and type. Apart from frames.ts (which reads and writes
 * frames) because the hand-written fast path checks the same facts and returns these types:
 * with the schemas inside frames.ts, frames.ts and frame-fast-path.ts imported each other.
 * The limits the fast path re-checks by hand are named here, so both read one number.
 */

/** Request ids: zod counts UTF-16 units, like String.length. */
export const REQUEST_ID_MAX_CHARS = 64;
export const METHOD_MAX_CHARS = 64;
/** The longest RPC deadline a peer may ask for. */
export const MAX_REQUEST_TIMEOUT_MS = 24 * 3600_000;

export const RequestIdSchema = z.string().min(1).max(REQUEST_ID_MAX_CHARS);
const requestId = RequestIdSchema;
const seq = z.number().int().positive();

export const HelloSchema = z.object({
  type: z.literal('hello'),
  agentId: id,
  agentVersion: z.string().max(64),
  protocol: z.number().int().positive(),
  servers: z.array(ServerSummarySchema).max(256),
  capabilities: z.array(z.string().max(64)).max(64),
});

export const WelcomeSchema = z.object({
  type: z.literal('welcome'),
  sessionId: z.string(),
  heartbeatMs: z.number().int().positive(),
  hubVersion: z.string(),
  /** Highest record seq the hub has stored for this agent: the outbox drops everything up to it. */
  ackedSeq: z.number().int().nonnegative(),
});

export const ReqSchema = z.object({
  type: z.literal('req'),
  id: requestId,
  method: z.string().min(1).max(METHOD_MAX_CHARS),
  params: z.unknown(),
  timeoutMs: z.number().int().positive().max(MAX_REQUEST_TIMEOUT_MS),
});

export const ResSchema = z.discriminatedUnion('ok', [
  z.object({ type: z.literal('res'), id: requestId, ok: z.literal(true), result: z.unknown() }),
  z.object({ type: z.literal('res'), id: requestId, ok: z.literal(false), error: RpcErrorSchema }),
]);

const evtVariants = (Object.keys(eventTopics) as EventTopic[]).map((topic) =>
  z.object({
    type: z.literal('evt'),
    topic: z.literal(topic),
    seq: eventTopics[topic].kind === 'record' ? seq : z.never().optional(),
    data: eventTopics[topic].data,
  }),
);
export const EvtSchema = z.discriminatedUnion('topic', evtVariants as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]]) as unknown as z.ZodType<EvtFrame>;

export const AckSchema = z.object({ type: z.literal('ack'), seq: z.number().int().nonnegative() });
export const CancelSchema = z.object({ type: z.literal('cancel'), id: requestId });

export type Hello = z.infer<typeof HelloSchema>;
export type Welcome = z.infer<typeof WelcomeSchema>;
export type Req = z.infer<typeof ReqSchema>;
export type Res = z.infer<typeof ResSchema>;
export type Ack = z.infer<typeof AckSchema>;
export type Cancel = z.infer<typeof CancelSchema>;
export type EvtFrame = {
  [T in EventTopic]: {
    type: 'evt';
    topic: T;
    seq: (typeof eventTopics)[T]['kind'] extends 'record' ? number : undefined;
    data: z.infer<(typeof eventTopics)[T]['data']>;
  };
}[EventTopic];

export type Frame = Hello | Welcome | Req | Res | EvtFrame | Ack | Cancel;
