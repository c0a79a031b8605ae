import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkChoices, checkCommands, checkMessageBody, isObj, type Json } from './limits.ts';
import { snowflake } from './snowflake.ts';
import { routeOf, type FakeInteraction, type FakeMessage, type FakeState, type FakeThread } from './state.ts';

export interface RestOptions {
  applicationId: string;
  guildId: string;
  /** Bot routes with any other token answer 401. */
  token: () => string;
  gatewayUrl: () => string;
  channelIds: () => string[];
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

const err = (status: number, code: number, message: string): Reply => ({ status, body: { message, code } });
const UNKNOWN_MESSAGE = () => err(404, 10008, 'Unknown Message');
const UNKNOWN_CHANNEL = () => err(404, 10003, 'Unknown Channel');
const formError = (v: string[]) => err(400, 50035, `Invalid Form Body: ${v.join('; ')}`);
const MISSING_ACCESS = () => err(403, 50001, 'Missing Access');
const MISSING_PERMISSIONS = () => err(403, 50013, 'Missing Permissions');
/** The auto_archive_duration values Discord accepts (minutes). */
const ARCHIVE_MINUTES = [60, 1440, 4320, 10080];
const THREAD_NAME_MAX = 100;

function toApiThread(t: FakeThread, guildId: string, ownerId: string): Json {
  return {
    id: t.id, type: 11, guild_id: guildId, parent_id: t.parentId, owner_id: ownerId, name: t.name, flags: 0, rate_limit_per_user: 0,
    message_count: 0, member_count: 1, last_message_id: null,
    thread_metadata: { archived: t.archived, auto_archive_duration: t.autoArchiveMinutes, archive_timestamp: new Date(t.createdAt).toISOString(), locked: false },
  };
}

export function toApiMessage(m: FakeMessage, applicationId: string, guildId: string): Json {
  return {
    id: m.id, channel_id: m.channelId, guild_id: guildId, type: m.interactionId ? 20 : 0, content: m.content,
    author: { id: m.authorId, username: 'ReconSync', discriminator: '0000', global_name: null, avatar: null, bot: true },
    timestamp: new Date(m.createdAt).toISOString(), edited_timestamp: m.editedAt ? new Date(m.editedAt).toISOString() : null,
    tts: false, mention_everyone: false, mentions: [], mention_roles: [], attachments: [], embeds: m.embeds,
    components: m.components, pinned: false, flags: m.flags | (m.loading ? 128 : 0),
    application_id: m.interactionId ? applicationId : undefined,
  };
}

/** Applies an edit body to a message (partial: absent fields stay). */
function applyEdit(m: FakeMessage, body: Json): void {
  if (typeof body.content === 'string' || body.content === null) m.content = body.content ?? '';
  if (Array.isArray(body.embeds)) m.embeds = body.embeds.filter(isObj);
  if (Array.isArray(body.components)) m.components = body.components.filter(isObj);
  m.loading = false;
  m.edits += 1;
  m.editedAt = Date.now();
}

function mergedAfter(m: FakeMessage, body: Json) {
  return {
    content: typeof body.content === 'string' ? body.content : body.content === null ? '' : m.content,
    embeds: Array.isArray(body.embeds) ? body.embeds : m.embeds,
    components: Array.isArray(body.components) ? body.components : m.components,
  };
}

export class FakeRest {
  constructor(private readonly state: FakeState, private readonly opts: RestOptions) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10/, '');
    const raw = await readBody(req);
    let body: unknown = null;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const call = { method, path, query: url.search, body, at: Date.now(), status: 0, route: routeOf(method, path) };
    let reply: Reply;
    const failure = this.state.takeFailure(method, path);
    if (failure) {
      reply = err(failure.status, failure.code, failure.message);
      if (failure.retryAfterSec !== undefined) {
        reply.headers = { 'Retry-After': String(failure.retryAfterSec), 'X-RateLimit-Scope': 'user' };
        reply.body = { message: failure.message, retry_after: failure.retryAfterSec, global: false, code: failure.code };
      }
    } else {
      reply = this.route(method, path, url.searchParams, req.headers.authorization, isObj(body) ? body : Array.isArray(body) ? { __array: body } : {});
    }
    call.status = reply.status;
    this.state.calls.push(call);
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    if (reply.body !== undefined) headers['Content-Type'] = 'application/json';
    res.writeHead(reply.status, headers);
    res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
    this.state.changed();
  }

  private route(method: string, path: string, query: URLSearchParams, auth: string | undefined, body: Json): Reply {
    const p = path.split('/').filter(Boolean);
    const { applicationId: app, guildId } = this.opts;
    const botRoute = p[0] !== 'interactions' && p[0] !== 'webhooks';
    if (botRoute && auth !== `Bot ${this.opts.token()}`) return err(401, 0, '401: Unauthorized');

    if (method === 'GET' && path === '/gateway/bot') {
      return { status: 200, body: { url: this.opts.gatewayUrl(), shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } } };
    }
    if (method === 'GET' && path === '/users/@me') return { status: 200, body: { id: app, username: 'ReconSync', discriminator: '0000', bot: true, avatar: null } };
    if (p[0] === 'applications' && p[1] === app && p.at(-1) === 'commands') {
      const scope = p[2] === 'guilds' ? (p[3] ?? '') : 'global';
      if (method === 'PUT') return this.putCommands(scope, Array.isArray(body.__array) ? body.__array : []);
      if (method === 'GET') return { status: 200, body: this.state.commands.get(scope) ?? [] };
    }
    if (p[0] === 'interactions' && p[3] === 'callback' && method === 'POST') return this.callback(p[1] ?? '', p[2] ?? '', query, body);
    if (p[0] === 'webhooks' && p[1] === app) return this.webhook(method, p[2] ?? '', p[3] === 'messages' ? (p[4] ?? '') : null, body);
    if (p[0] === 'channels' && p[2] === 'messages' && p[4] === 'threads' && p.length === 5) return this.startThread(method, p[1] ?? '', p[3] ?? '', body);
    if (p[0] === 'channels' && p.length === 2 && this.state.threads.has(p[1] ?? '')) return this.thread(method, p[1] ?? '', body);
    if (p[0] === 'channels') return this.channel(method, p[1] ?? '', p[2] === 'messages' ? (p[3] ?? null) : undefined, body);
    return err(404, 0, '404: Not Found');
  }

  private putCommands(scope: string, commands: unknown[]): Reply {
    this.state.commandPuts += 1;
    const v = checkCommands(commands);
    if (v.length) {
      v.forEach((s) => this.state.violate(`commands: ${s}`));
      return formError(v);
    }
    const stored = commands.filter(isObj).map((c) => ({ ...c, id: snowflake(), application_id: this.opts.applicationId, version: snowflake(), type: c.type ?? 1 }));
    this.state.commands.set(scope, stored);
    return { status: 200, body: stored };
  }

  private callback(id: string, token: string, query: URLSearchParams, body: Json): Reply {
    const i = this.state.interactions.get(id);
    if (!i || i.token !== token || i.expired) return err(404, 10062, 'Unknown interaction');
    if (i.callbacks.length > 0) return err(400, 40060, 'Interaction has already been acknowledged.');
    const type = typeof body.type === 'number' ? body.type : -1;
    const data = isObj(body.data) ? body.data : null;
    const allowed = i.kind === 'autocomplete' ? [8] : i.kind === 'button' ? [4, 5, 6, 7, 9] : [4, 5, 9];
    if (!allowed.includes(type)) {
      this.state.violate(`interaction ${i.kind}: callback type ${type} is not allowed (allowed ${allowed.join(',')})`);
      return formError([`callback type ${type}`]);
    }
    const flags = typeof data?.flags === 'number' ? data.flags : 0;
    if (type === 8) {
      const choices = Array.isArray(data?.choices) ? data.choices : [];
      const v = checkChoices(choices);
      if (v.length) {
        v.forEach((s) => this.state.violate(`autocomplete: ${s}`));
        return formError(v);
      }
      i.choices = choices;
    } else if (type === 4 || type === 7) {
      const target = type === 7 ? this.state.messages.get(i.sourceMessageId ?? '') : undefined;
      const v = checkMessageBody(data ?? {}, target ? mergedAfter(target, data ?? {}) : undefined);
      if (v.length) {
        v.forEach((s) => this.state.violate(`interaction reply: ${s}`));
        return formError(v);
      }
      if (type === 4) {
        const m = this.state.newMessage({ channelId: i.channelId, authorId: this.opts.applicationId, flags: flags & 64, interactionId: i.id });
        applyEdit(m, data ?? {});
        m.edits = 0;
        m.editedAt = null;
        i.originalId = m.id;
      } else if (target) {
        applyEdit(target, data ?? {});
        i.originalId = target.id;
      }
    } else if (type === 5) {
      const m = this.state.newMessage({ channelId: i.channelId, authorId: this.opts.applicationId, flags: flags & 64, interactionId: i.id, loading: true });
      i.originalId = m.id;
    } else if (type === 6) {
      i.originalId = i.sourceMessageId;
    }
    i.callbacks.push({ type, data, at: Date.now() });
    if (query.get('with_response') !== 'true') return { status: 204 };
    const msg = i.originalId ? this.state.messages.get(i.originalId) : undefined;
    return {
      status: 200,
      body: {
        interaction: { id: i.id, type: i.kind === 'button' ? 3 : 2, activity_instance_id: null, response_message_id: msg?.id ?? null, response_message_loading: msg?.loading ?? false, response_message_ephemeral: ((msg?.flags ?? 0) & 64) !== 0 },
        resource: { type, message: msg ? toApiMessage(msg, this.opts.applicationId, this.opts.guildId) : undefined },
      },
    };
  }

  private webhook(method: string, token: string, messageId: string | null, body: Json): Reply {
    const i = this.state.interactionsByToken.get(token);
    if (!i) return err(404, 10015, 'Unknown Webhook');
    const api = (m: FakeMessage) => ({ status: 200, body: toApiMessage(m, this.opts.applicationId, this.opts.guildId) });
    if (messageId === null) {
      if (method !== 'POST') return err(405, 0, '405: Method Not Allowed');
      if (i.callbacks.length === 0) return err(404, 10015, 'Unknown Webhook');
      const v = checkMessageBody(body);
      if (v.length) {
        v.forEach((s) => this.state.violate(`follow-up: ${s}`));
        return formError(v);
      }
      const flags = typeof body.flags === 'number' ? body.flags & 64 : 0;
      const m = this.state.newMessage({ channelId: i.channelId, authorId: this.opts.applicationId, flags, interactionId: i.id });
      applyEdit(m, body);
      m.edits = 0;
      m.editedAt = null;
      i.followupIds.push(m.id);
      return api(m);
    }
    const id = messageId === '@original' ? i.originalId : messageId;
    const m = id ? this.state.messages.get(id) : undefined;
    if (!m || m.deleted) return UNKNOWN_MESSAGE();
    if (method === 'GET') return api(m);
    if (method === 'DELETE') {
      m.deleted = true;
      return { status: 204 };
    }
    if (method === 'PATCH') return this.edit(m, body, 'interaction edit');
    return err(405, 0, '405: Method Not Allowed');
  }

  private edit(m: FakeMessage, body: Json, what: string): Reply {
    const v = checkMessageBody(body, mergedAfter(m, body));
    if (v.length) {
      v.forEach((s) => this.state.violate(`${what}: ${s}`));
      return formError(v);
    }
    applyEdit(m, body);
    return { status: 200, body: toApiMessage(m, this.opts.applicationId, this.opts.guildId) };
  }

  /** POST /channels/{channel}/messages/{message}/threads: a public thread (type 11) whose id is the message's. */
  private startThread(method: string, channelId: string, messageId: string, body: Json): Reply {
    if (method !== 'POST') return err(405, 0, '405: Method Not Allowed');
    if (!this.opts.channelIds().includes(channelId)) return UNKNOWN_CHANNEL();
    const fault = this.state.channelFaults.get(channelId);
    if (fault === 'unknown_channel') return UNKNOWN_CHANNEL();
    if (fault === 'missing_access') return MISSING_ACCESS();
    if (fault === 'missing_permissions') return MISSING_PERMISSIONS();
    const m = this.state.messages.get(messageId);
    if (!m || m.deleted || m.channelId !== channelId || (m.flags & 64) !== 0) return UNKNOWN_MESSAGE();
    if (this.state.threads.has(messageId)) return err(400, 160004, 'A thread has already been created for this message');
    const v: string[] = [];
    const name = typeof body.name === 'string' ? body.name : '';
    if (name.length < 1 || name.length > THREAD_NAME_MAX) v.push(`thread name ${name.length} chars (1..${THREAD_NAME_MAX})`);
    const minutes = body.auto_archive_duration ?? 4320;
    if (typeof minutes !== 'number' || !ARCHIVE_MINUTES.includes(minutes)) v.push(`auto_archive_duration ${String(minutes)} (one of ${ARCHIVE_MINUTES.join(', ')})`);
    if (v.length) {
      v.forEach((s) => this.state.violate(`thread: ${s}`));
      return formError(v);
    }
    const t: FakeThread = { id: m.id, parentId: channelId, messageId: m.id, name, archived: false, autoArchiveMinutes: minutes as number, createdAt: Date.now() };
    this.state.threads.set(t.id, t);
    return { status: 201, body: toApiThread(t, this.opts.guildId, this.opts.applicationId) };
  }

  /** GET/PATCH /channels/{thread}: read it, or archive / unarchive / rename it. */
  private thread(method: string, threadId: string, body: Json): Reply {
    const t = this.state.threads.get(threadId)!;
    const fault = this.state.channelFaults.get(t.parentId);
    if (fault === 'unknown_channel') return UNKNOWN_CHANNEL();
    if (fault === 'missing_access') return MISSING_ACCESS();
    if (method === 'GET') return { status: 200, body: toApiThread(t, this.opts.guildId, this.opts.applicationId) };
    if (method !== 'PATCH') return err(405, 0, '405: Method Not Allowed');
    if (fault === 'missing_permissions') return MISSING_PERMISSIONS();
    if (body.name !== undefined) {
      const name = typeof body.name === 'string' ? body.name : '';
      if (name.length < 1 || name.length > THREAD_NAME_MAX) {
        this.state.violate(`thread edit: name ${name.length} chars (1..${THREAD_NAME_MAX})`);
        return formError([`name ${name.length} chars`]);
      }
      t.name = name;
    }
    if (typeof body.archived === 'boolean') t.archived = body.archived;
    return { status: 200, body: toApiThread(t, this.opts.guildId, this.opts.applicationId) };
  }

  private channel(method: string, channelId: string, messageId: string | null | undefined, body: Json): Reply {
    const thread = this.state.threads.get(channelId);
    if (!thread && !this.opts.channelIds().includes(channelId)) return UNKNOWN_CHANNEL();
    // A thread has its parent's permissions.
    const fault = this.state.channelFaults.get(thread?.parentId ?? channelId);
    if (fault === 'unknown_channel') return UNKNOWN_CHANNEL();
    if (fault === 'missing_access') return MISSING_ACCESS();
    if (fault === 'missing_permissions' && method !== 'GET') return MISSING_PERMISSIONS();
    if (messageId === undefined) {
      if (method === 'GET') return { status: 200, body: { id: channelId, type: 0, guild_id: this.opts.guildId, name: `channel-${channelId}` } };
      return err(405, 0, '405: Method Not Allowed');
    }
    if (messageId === null) {
      if (method === 'GET') return { status: 200, body: this.state.channelMessages(channelId).reverse().map((m) => toApiMessage(m, this.opts.applicationId, this.opts.guildId)) };
      if (method !== 'POST') return err(405, 0, '405: Method Not Allowed');
      const v = checkMessageBody(body);
      if (v.length) {
        v.forEach((s) => this.state.violate(`channel message: ${s}`));
        return formError(v);
      }
      // As Discord does: a message into an archived (unlocked) thread unarchives it.
      if (thread) thread.archived = false;
      const m = this.state.newMessage({ channelId, authorId: this.opts.applicationId });
      applyEdit(m, body);
      m.edits = 0;
      m.editedAt = null;
      return { status: 200, body: toApiMessage(m, this.opts.applicationId, this.opts.guildId) };
    }
    const m = this.state.messages.get(messageId);
    if (!m || m.deleted || m.channelId !== channelId) return UNKNOWN_MESSAGE();
    if (method === 'GET') return { status: 200, body: toApiMessage(m, this.opts.applicationId, this.opts.guildId) };
    if (method === 'DELETE') {
      m.deleted = true;
      return { status: 204 };
    }
    if (method === 'PATCH') return this.edit(m, body, 'message edit');
    return err(405, 0, '405: Method Not Allowed');
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export type { FakeInteraction };
