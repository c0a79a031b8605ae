import type { IncomingMessage, ServerResponse } from 'node:http';
import { echo } from '../../lib/echo.ts';
import { z } from 'zod';
import { ReconSyncError, agentMethods, id as idSchema } from '../../protocol/index.ts';
import type { Actor, HubService } from '../service/types.ts';
import { HttpError, readJsonBody, sendJson } from './respond.ts';
import { safeParse } from '../../protocol/safe-parse.ts';
import { listAudit, listEvents, type EventsApi } from './events-api.ts';
import { issueMessage, issueText } from '../../lib/zod-issue.ts';

const API_PREFIX = '/api/v1';

/**
 * Request bodies are the agent method's params without what the URL (serverId) or the hub (actor) supplies:
 * derived, so a limit changed in protocol/ holds for the API too. Picked, not omitted: a param protocol/ gains
 * is refused here until its handler passes it on (test/hub/http/body-schemas.test.ts names it). Strict: an
 * unknown key is a caller's typo.
 */
const EmptyBody = z.object({}).strict();
const UpdateBody = agentMethods['update.apply'].params.pick({ warnMinutes: true }).strict();
const BackupBody = agentMethods['backup.create'].params.pick({ note: true }).strict();
const RestartBody = agentMethods['server.restart'].params.pick({ warnAt: true }).strict();
const RestoreBody = agentMethods['backup.restore'].params.pick({ backupId: true, from: true, paths: true }).strict();
/** The bodies by the agent method they feed (tests check they stay derived). */
export const apiBodySchemas = {
  'update.apply': UpdateBody, 'backup.create': BackupBody, 'server.restart': RestartBody, 'backup.restore': RestoreBody,
} as const;
/** `?lines=` of GET …/log: the agent's own bound and default. */
const LogQuery = agentMethods['server.log'].params.pick({ lines: true });

function parseBody<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const r = safeParse(schema, raw ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ReconSyncError('INVALID_PARAMS', `body ${issueText(issue)}`);
  }
  return r.data;
}

function idFrom(segment: string, unknown: (id: string) => ReconSyncError): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    decoded = segment;
  }
  if (!idSchema.safeParse(decoded).success) throw unknown(echo(decoded));
  return decoded;
}

const serverIdFrom = (segment: string) => idFrom(segment, (id) => new ReconSyncError('UNKNOWN_SERVER', `no server "${id}"; list servers with GET /api/v1/servers`));
const agentIdFrom = (segment: string) => idFrom(segment, (id) => new ReconSyncError('UNKNOWN_AGENT', `no agent "${id}"; list agents with GET /api/v1/agents`));

/** The forget commands are optional on HubService (adapter test doubles); the hub's own service has them. */
function forgetting<K extends 'forgetServer' | 'forgetAgent'>(service: HubService, name: K): NonNullable<HubService[K]> {
  const fn = service[name];
  if (!fn) throw new ReconSyncError('NOT_SUPPORTED', `this hub service cannot ${name === 'forgetServer' ? 'forget servers' : 'forget agents'}`);
  return fn.bind(service) as NonNullable<HubService[K]>;
}

/** The update commands are optional on HubService (adapter test doubles); the hub's own service has them. */
function updating<K extends 'getUpdate' | 'checkUpdate' | 'applyUpdate'>(service: HubService, name: K): NonNullable<HubService[K]> {
  const fn = service[name];
  if (!fn) throw new ReconSyncError('NOT_SUPPORTED', 'this hub service cannot manage game updates');
  return fn.bind(service) as NonNullable<HubService[K]>;
}

export interface ApiContext {
  service: HubService;
  actor: Actor;
  maxBodyBytes: number;
  /** The events API (events, audit); absent in adapter tests without a store. */
  events?: EventsApi;
}

function eventsOf(c: ApiContext): EventsApi {
  if (!c.events) throw new ReconSyncError('NOT_SUPPORTED', 'this hub has no event store');
  return c.events;
}

type Handler = (ctx: ApiContext, req: IncomingMessage, params: string[]) => Promise<unknown>;

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: RegExp;
  handler: Handler;
  /** Actions answer { ok: true, result }; reads answer the resource itself (design.md §4a). */
  envelope: boolean;
  /** HTTP status of a success; 200 unless given (an update answers 202: started, outcome later). */
  status?: number;
}

const seg = '([^/]+)';

const routes: Route[] = [
  { method: 'GET', pattern: /^\/agents$/, envelope: false, handler: async (c) => c.service.listAgents() },
  { method: 'DELETE', pattern: new RegExp(`^/agents/${seg}$`), envelope: true, handler: async (c, _r, [id]) => forgetting(c.service, 'forgetAgent')(agentIdFrom(id!), c.actor) },
  { method: 'GET', pattern: /^\/events$/, envelope: false, handler: async (c, req) => listEvents(eventsOf(c), req.url) },
  { method: 'GET', pattern: /^\/audit$/, envelope: false, handler: async (c, req) => listAudit(eventsOf(c), req.url) },
  { method: 'GET', pattern: /^\/servers$/, envelope: false, handler: async (c) => c.service.listServers() },
  { method: 'GET', pattern: new RegExp(`^/servers/${seg}$`), envelope: false, handler: async (c, _r, [id]) => c.service.getServer(serverIdFrom(id!)) },
  { method: 'DELETE', pattern: new RegExp(`^/servers/${seg}$`), envelope: true, handler: async (c, _r, [id]) => forgetting(c.service, 'forgetServer')(serverIdFrom(id!), c.actor) },
  {
    method: 'GET', pattern: new RegExp(`^/servers/${seg}/log$`), envelope: false, handler: async (c, req, [id]) => {
      const serverId = serverIdFrom(id!);
      const raw = new URL(req.url ?? '/', 'http://x').searchParams.get('lines');
      const query = safeParse(LogQuery, { lines: raw === null ? undefined : Number(raw) });
      if (!query.success) throw new ReconSyncError('INVALID_PARAMS', `query lines: ${issueMessage(query.error.issues[0])}`);
      const { lines } = query.data;
      if (!c.service.serverLog) throw new ReconSyncError('NOT_SUPPORTED', 'this hub service cannot read game logs');
      return c.service.serverLog(serverId, lines);
    },
  },
  {
    method: 'GET', pattern: new RegExp(`^/servers/${seg}/players$`), envelope: false, handler: async (c, _r, [id]) => {
      const serverId = serverIdFrom(id!);
      const view = c.service.getServer(serverId);
      // An empty list would say nobody is on: for a game that reports counts only, say so instead.
      if (view.playerDetail === 'counts') {
        throw new ReconSyncError('NOT_SUPPORTED', `${view.game} reports how many players are on (${view.players.online} of ${view.players.max}), not who: see GET /api/v1/servers/${serverId}`);
      }
      return eventsOf(c).players?.online(serverId) ?? [];
    },
  },
  { method: 'GET', pattern: new RegExp(`^/servers/${seg}/backups$`), envelope: false, handler: async (c, _r, [id]) => c.service.listBackups(serverIdFrom(id!)) },
  {
    method: 'POST',
    pattern: new RegExp(`^/servers/${seg}/actions/(start|stop|restart|backup)$`),
    envelope: true,
    handler: async (c, req, [id, action]) => {
      const serverId = serverIdFrom(id!);
      const raw = await readJsonBody(req, { maxBytes: c.maxBodyBytes });
      if (action === 'backup') {
        const body = parseBody(BackupBody, raw);
        return c.service.createBackup(serverId, c.actor, body.note === undefined ? {} : { note: body.note });
      }
      if (action === 'restart') {
        const body = parseBody(RestartBody, raw);
        return c.service.serverAction(serverId, 'restart', c.actor, body.warnAt ? { warnAt: body.warnAt } : {});
      }
      parseBody(EmptyBody, raw);
      return c.service.serverAction(serverId, action as 'start' | 'stop', c.actor);
    },
  },
  { method: 'GET', pattern: new RegExp(`^/servers/${seg}/update$`), envelope: false, handler: async (c, _r, [id]) => updating(c.service, 'getUpdate')(serverIdFrom(id!)) },
  {
    method: 'POST',
    pattern: new RegExp(`^/servers/${seg}/actions/check-update$`),
    envelope: false,
    handler: async (c, req, [id]) => {
      const serverId = serverIdFrom(id!);
      parseBody(EmptyBody, await readJsonBody(req, { maxBytes: c.maxBodyBytes }));
      return updating(c.service, 'checkUpdate')(serverId, c.actor);
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/servers/${seg}/actions/update$`),
    envelope: true,
    status: 202,
    handler: async (c, req, [id]) => {
      const serverId = serverIdFrom(id!);
      const body = parseBody(UpdateBody, await readJsonBody(req, { maxBytes: c.maxBodyBytes }));
      return updating(c.service, 'applyUpdate')(serverId, c.actor, body.warnMinutes ? { warnMinutes: body.warnMinutes } : {});
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/servers/${seg}/actions/cancel-restart$`),
    envelope: true,
    handler: async (c, req, [id]) => {
      const serverId = serverIdFrom(id!);
      parseBody(EmptyBody, await readJsonBody(req, { maxBytes: c.maxBodyBytes }));
      return c.service.cancelRestart(serverId, c.actor);
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/servers/${seg}/restore$`),
    envelope: true,
    handler: async (c, req, [id]) => {
      const serverId = serverIdFrom(id!);
      const body = parseBody(RestoreBody, await readJsonBody(req, { maxBytes: c.maxBodyBytes }));
      const opts = { ...(body.from !== undefined ? { from: body.from } : {}), ...(body.paths !== undefined ? { paths: body.paths } : {}) };
      return c.service.restoreBackup(serverId, body.backupId, c.actor, opts);
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/servers/${seg}/backups/${seg}/(lock|unlock)$`),
    envelope: true,
    handler: async (c, req, [id, backupId, verb]) => {
      const serverId = serverIdFrom(id!);
      parseBody(EmptyBody, await readJsonBody(req, { maxBytes: c.maxBodyBytes }));
      let decoded: string;
      try {
        decoded = decodeURIComponent(backupId!);
      } catch {
        throw new ReconSyncError('UNKNOWN_BACKUP', 'backup id is not valid URL encoding');
      }
      return c.service.lockBackup(serverId, decoded, verb === 'lock', c.actor);
    },
  },
];

/**
 * "POST /api/v1/servers/{id}/actions/{start|stop|restart|backup}": a route as a caller writes it,
 * derived from its pattern so the list in the 404 answer cannot miss a route.
 */
export function describeRoute(r: Pick<Route, 'method' | 'pattern'>): string {
  const p = r.pattern.source.replace(/^\^|\$$/g, '').replace(/\\\//g, '/').replaceAll(seg, '{id}').replace(/\(([^)]*)\)/g, '{$1}');
  return `${r.method} ${API_PREFIX}${p}`;
}

/** Every route, as describeRoute writes it. */
export function apiRoutes(): string[] {
  return routes.map(describeRoute);
}

/** True when the path belongs to the API (and so needs the bearer token). */
export function isApiPath(pathname: string): boolean {
  return pathname === API_PREFIX || pathname.startsWith(`${API_PREFIX}/`);
}

/** Dispatches one authenticated API request. Throws HttpError/ReconSyncError for the caller to answer. */
export async function handleApi(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
  const sub = pathname.slice(API_PREFIX.length);
  const matching = routes.map((r) => ({ r, m: r.pattern.exec(sub) })).filter((x) => x.m !== null);
  if (matching.length === 0) throw new HttpError(404, 'INVALID_PARAMS', `no API endpoint ${echo(pathname)}; the endpoints are ${routes.map(describeRoute).join(', ')} (README.md, "HTTP API")`);
  const hit = matching.find((x) => x.r.method === req.method);
  if (!hit || !hit.m) {
    throw new HttpError(405, 'INVALID_PARAMS', `use ${[...new Set(matching.map((x) => x.r.method))].join(' or ')} for ${echo(pathname)}`, {
      Allow: [...new Set(matching.map((x) => x.r.method))].join(', '),
    });
  }
  const result = await hit.r.handler(ctx, req, hit.m.slice(1));
  sendJson(res, hit.r.status ?? 200, hit.r.envelope ? { ok: true, result } : result);
}
