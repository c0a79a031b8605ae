import type { Logger } from '../../lib/logger.ts';
import type { Actor, AuditEntry, HubService } from '../service/types.ts';
import { channelRefusal, describeError, NotConnectedError } from './errors.ts';
import { inlineCode } from './format.ts';
import { cut } from './limits.ts';
import type { ChannelPoster } from './poster.ts';

/** Longest server id or detail kept in an audit entry (a valid id is at most 64 characters). */
const AUDIT_ID_MAX = 100;
const AUDIT_DETAIL_MAX = 500;

const outcomeIcon: Record<AuditEntry['outcome'], string> = { ok: '✅', denied: '🚫', error: '❌' };

/**
 * Who did what from Discord. Denials (and what only Discord sees, such as
 * /statusboard) go to service.audit; actions that went through the service
 * are already in its audit log, so they are only mirrored to the channel.
 */
export class AuditTrail {
  readonly #service: HubService;
  readonly #poster: ChannelPoster;
  readonly #channelId: string | null;
  readonly #logger: Logger;
  constructor(
    service: HubService,
    poster: ChannelPoster,
    channelId: string | null,
    logger: Logger,
  ) {
    this.#service = service;
    this.#poster = poster;
    this.#channelId = channelId;
    this.#logger = logger;
  }

  record(raw: Omit<AuditEntry, 'at'>, opts: { toService: boolean }): void {
    // Ids and details can come straight from what a user typed or a client sent.
    const entry = { ...raw, serverId: raw.serverId === null ? null : cut(raw.serverId, AUDIT_ID_MAX), detail: raw.detail ? cut(raw.detail, AUDIT_DETAIL_MAX) : raw.detail };
    if (opts.toService) {
      try {
        this.#service.audit(entry);
      } catch (err) {
        this.#logger.error({ err: describeError(err) }, 'discord: writing the audit log failed');
      }
    }
    if (!this.#channelId) return;
    const who = entry.actor.kind === 'discord' ? `<@${entry.actor.id}>` : inlineCode(entry.actor.id);
    const server = entry.serverId ? ` on ${inlineCode(entry.serverId)}` : '';
    const detail = entry.detail ? ` · ${cut(entry.detail, 300)}` : '';
    const content = cut(`${outcomeIcon[entry.outcome]} ${who} ${inlineCode(entry.action)}${server} → ${entry.outcome}${detail}`, 2000);
    this.#poster.send(this.#channelId, { content }).catch((err: unknown) => {
      // A refused channel was logged once, with the fix, by the poster.
      if (!(err instanceof NotConnectedError) && !channelRefusal(err)) this.#logger.warn({ ...describeError(err) }, 'discord: could not post to the audit channel');
    });
  }
}

export function discordActor(user: { id: string; username: string }): Actor {
  return { kind: 'discord', id: user.id, name: user.username };
}
