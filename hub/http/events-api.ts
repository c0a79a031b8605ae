import type { IncomingMessage, ServerResponse } from 'node:http';
import { echo } from '../../lib/echo.ts';
import { z } from 'zod';
import type { Logger } from '../../lib/logger.ts';
import { ReconSyncError, id as idSchema, type Clock } from '../../protocol/index.ts';
import type { EventLog } from '../events/event-log.ts';
import type { PlayerTracker } from '../events/players.ts';
import { eventKinds, type HubEvent } from '../../protocol/event-kinds.ts';
import type { Store } from '../store/index.ts';
import { issueMessage, issuePath } from '../../lib/zod-issue.ts';

/** Limits of the events API and its stream; named so no bare number hides in the code. */
export const DefaultEventsApiLimits = {
  /** Most events one GET /events answer holds. */
  maxPage: 1000,
  defaultPage: 100,
  /** Most audit rows one GET /audit answer holds. */
  maxAudit: 1000,
  /** A comment line this often keeps proxies from closing an idle stream. */
  heartbeatMs: 15_000,
  /** A stream whose unread output passes this is closed: a slow reader must not make the hub buffer without end. */
  maxBufferedBytes: 1024 * 1024,
  /** Most events replayed to a resuming stream; older ones are read with GET /events. */
  maxReplay: 5000,
} as const;
export type EventsApiLimits = { -readonly [K in keyof typeof DefaultEventsApiLimits]: number };

export interface EventsApi {
  log: EventLog;
  store: Store;
  clock: Clock;
  logger: Logger;
  limits?: Partial<EventsApiLimits>;
  /** Who is on each server (GET /servers/{id}/players). */
  players?: PlayerTracker;
}

const cursor = z.coerce.number().int().nonnegative();
const kindList = z
  .string()
  .transform((s) => s.split(',').map((k) => k.trim()).filter((k) => k !== ''))
  .pipe(z.array(z.enum(eventKinds, { error: `kinds are ${eventKinds.join(', ')}` })).max(eventKinds.length));

const EventsQuery = z.object({
  since: cursor.optional(),
  server: idSchema.optional(),
  kind: kindList.optional(),
  limit: z.coerce.number().int().min(1).optional(),
}).strict();
const AuditQuery = z.object({ limit: z.coerce.number().int().min(1).optional(), server: idSchema.optional() }).strict();

function parseQuery<S extends z.ZodObject>(schema: S, url: string | undefined, what: string): z.output<S> {
  const params = Object.fromEntries(new URL(url ?? '/', 'http://x').searchParams);
  const r = schema.safeParse(params);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = issue?.path.length ? issuePath(issue) : '(query)';
    const hint = issue?.code === 'unrecognized_keys' ? `; ${what} takes ${Object.keys(schema.shape).join(', ')}` : '';
    throw new ReconSyncError('INVALID_PARAMS', `query ${echo(key)}: ${issueMessage(issue)}${hint}`);
  }
  return r.data;
}

export interface EventsPage {
  events: HubEvent[];
  /** Pass as `since` for the next page; equal to `since` when nothing newer matched. */
  next: number;
}

/** GET /api/v1/events: oldest first after the cursor, bounded. */
export function listEvents(api: EventsApi, url: string | undefined): EventsPage {
  const limits = { ...DefaultEventsApiLimits, ...api.limits };
  const q = parseQuery(EventsQuery, url, 'GET /api/v1/events');
  const limit = Math.min(q.limit ?? limits.defaultPage, limits.maxPage);
  const events = api.store.hubEvents.list({ since: q.since ?? 0, limit, ...(q.server !== undefined ? { serverId: q.server } : {}), ...(q.kind ? { kinds: q.kind } : {}) });
  return { events, next: events.at(-1)?.id ?? q.since ?? 0 };
}

/** GET /api/v1/audit: newest first. */
export function listAudit(api: EventsApi, url: string | undefined) {
  const limits = { ...DefaultEventsApiLimits, ...api.limits };
  const q = parseQuery(AuditQuery, url, 'GET /api/v1/audit');
  return api.store.audit.recent(Math.min(q.limit ?? 100, limits.maxAudit), q.server);
}

function frame(e: HubEvent): string {
  // JSON has no raw newlines, so one data line carries the whole event.
  return `id: ${e.id}\nevent: ${e.kind}\ndata: ${JSON.stringify(e)}\n\n`;
}

/**
 * GET /api/v1/events/stream (Server-Sent Events). Resumes after
 * Last-Event-ID (or ?since=); without either it starts with the next event.
 * Filters as GET /events (server, kind).
 */
export function streamEvents(api: EventsApi, req: IncomingMessage, res: ServerResponse): void {
  const limits = { ...DefaultEventsApiLimits, ...api.limits };
  const q = parseQuery(EventsQuery.omit({ limit: true }), req.url, 'GET /api/v1/events/stream');
  const header = req.headers['last-event-id'];
  const resumeRaw = (Array.isArray(header) ? header[0] : header)?.trim();
  let resume = q.since;
  if (resumeRaw) {
    const r = cursor.safeParse(resumeRaw);
    if (!r.success) throw new ReconSyncError('INVALID_PARAMS', 'Last-Event-ID: an event id (a number) from this stream');
    resume = r.data;
  }
  const filter = { ...(q.server !== undefined ? { serverId: q.server } : {}), ...(q.kind ? { kinds: q.kind } : {}) };
  const matches = (e: HubEvent) => (q.server === undefined || e.serverId === q.server) && (!q.kind?.length || q.kind.includes(e.kind));

  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no', 'X-Content-Type-Options': 'nosniff' });
  res.write(': reconsync events\n\n');

  const stop = new AbortController();
  let lastSent = api.log.lastId;
  let unsubscribe = () => {};
  const end = (why: 'closed' | 'slow' | 'hub closing') => {
    if (stop.signal.aborted) return;
    stop.abort();
    unsubscribe();
    if (why === 'slow') {
      api.logger.warn({ buffered: res.writableLength, limit: limits.maxBufferedBytes }, 'event stream client does not read; closed (it resumes with Last-Event-ID)');
      res.destroy();
    } else if (why === 'hub closing') res.end();
  };
  const send = (text: string) => {
    if (stop.signal.aborted) return;
    res.write(text);
    if (res.writableLength > limits.maxBufferedBytes) end('slow');
  };

  // Replay and subscription happen in one synchronous stretch: no event can fall between them.
  if (resume !== undefined) {
    lastSent = resume;
    let replayed = 0;
    for (;;) {
      const page = api.store.hubEvents.list({ since: lastSent, limit: 500, ...filter });
      for (const e of page) send(frame(e));
      replayed += page.length;
      lastSent = page.at(-1)?.id ?? lastSent;
      if (page.length < 500 || stop.signal.aborted) break;
      if (replayed >= limits.maxReplay) {
        send(`: replay stopped after ${replayed} events; read older ones with GET /api/v1/events?since=${lastSent}\n\n`);
        lastSent = Math.max(lastSent, api.log.lastId);
        break;
      }
    }
  }
  if (stop.signal.aborted) return;
  unsubscribe = api.log.subscribe((e) => {
    if (e.id <= lastSent || !matches(e)) return;
    lastSent = e.id;
    send(frame(e));
  }, () => end('hub closing'));
  res.on('close', () => end('closed'));
  void (async () => {
    while (!stop.signal.aborted) {
      try {
        await api.clock.sleep(limits.heartbeatMs, stop.signal);
      } catch {
        return;
      }
      send(': ping\n\n');
    }
  })();
}
