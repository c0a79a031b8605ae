import type { AlertKind, Clock } from '../../protocol/index.ts';
import type { Logger } from '../../lib/logger.ts';
import { kindOfAlert, severityOf, type HubEvent, type Severity } from '../../protocol/event-kinds.ts';
import type { HubAlert, ServerView } from '../service/types.ts';
import type { EditThrottle } from './edit-throttle.ts';
import { channelRefusal, describeError, NotConnectedError } from './errors.ts';
import { escapeText, inlineCode, relativeTime, serverLabel } from './format.ts';
import { cut } from './limits.ts';
import type { ChannelPoster } from './poster.ts';

type Kind = AlertKind | HubAlert['kind'] | 'agent_offline' | 'agent_back';

const kindText: Record<Kind, string> = {
  crashed: '🔴 crashed',
  unresponsive: '🟠 stopped answering queries',
  restarted: '🔁 was restarted',
  recovered: '🟢 recovered',
  gave_up: '⛔ crashed too often; automatic restarts gave up',
  backup_failed: '❌ backup failed',
  backup_overdue: '⏰ backup overdue',
  backup_shrunk: '📉 backup much smaller than the last one',
  upload_failed: '☁️ upload to a backup destination failed',
  update_available: '🆕 has a game update available',
  update_ok: '⬆️ was updated',
  update_failed: '❌ update failed (still on the old build)',
  update_rolled_back: '↩️ update rolled back to the old build',
  server_conflict: '🚫 was claimed by another agent (refused)',
  agent_offline: '📴 agent offline',
  agent_back: '📶 agent back online',
};

interface Entry {
  key: string;
  firstAt: number;
  lastAt: number;
  count: number;
  text: string;
  messageId: string | null;
  /** The text last written to Discord; differs from render() while an update is due. */
  written: string | null;
  /** Role mentioned for this alert's severity (discord.alertRoles), or null. */
  role: string | null;
}

export interface AlertDeps {
  channelId: string;
  poster: ChannelPoster;
  throttle: EditThrottle;
  clock: Clock;
  logger: Logger;
  cooldownMs: number;
  maxEntries: number;
  getServer: (id: string) => ServerView | null;
  /** discord.alertRoles: role id mentioned per severity. */
  alertRoles?: Partial<Record<Severity, string>> | undefined;
}

const MESSAGE_MAX = 1500;
const SEEN_MAX = 1000;

/**
 * Alerts to one channel. One message per (subject, kind) per cooldown window:
 * repeats within the window edit that message with a count instead of posting
 * again, so a flapping server yields one "crashed" and one "recovered" message
 * that keep counting. Exact repeats (a record re-sent after a reconnect) are
 * dropped. Agents going and coming back are the hub's agent_offline and
 * agent_online events (hub/events/event-log.ts: recorded after
 * alerts.offlineGraceMs without a link, "online" only after an "offline"), so
 * Discord, the API, the stream and webhooks tell the same story.
 */
export class AlertRouter {
  readonly #entries = new Map<string, Entry>();
  readonly #seen = new Set<string>();
  suppressed = 0;
  readonly #deps: AlertDeps;

  constructor(deps: AlertDeps) {
    this.#deps = deps;
  }

  onAlert(alert: HubAlert): void {
    const fp = `${alert.serverId}|${alert.kind}|${alert.at}|${alert.message}`;
    if (this.#seen.has(fp)) return;
    this.#seen.add(fp);
    if (this.#seen.size > SEEN_MAX) this.#seen.delete(this.#seen.values().next().value as string);
    const s = this.#deps.getServer(alert.serverId);
    const who = s ? serverLabel(s) : inlineCode(alert.serverId);
    const detail = alert.message ? `: ${escapeText(cut(alert.message, MESSAGE_MAX))}` : '';
    this.#raise(`server:${alert.serverId}:${alert.kind}`, `${who} ${kindText[alert.kind]}${detail}`, severityOf[kindOfAlert(alert.kind)]);
  }

  /** The hub's event feed: agent_offline and agent_online become alerts here; other kinds have their own paths. */
  onEvent(event: HubEvent): void {
    if (event.agentId === null) return;
    const who = `Agent ${inlineCode(event.agentId)}`;
    if (event.kind === 'agent_offline') {
      this.#raise(`agent:${event.agentId}:offline`, `${who} ${kindText.agent_offline} (${escapeText(event.message)}); its servers are shown as offline.`, severityOf.agent_offline);
    } else if (event.kind === 'agent_online') {
      this.#raise(`agent:${event.agentId}:back`, `${who} ${kindText.agent_back} (${escapeText(event.message)}).`, severityOf.agent_online);
    }
  }

  /** After (re)login: write whatever could not be written while disconnected. */
  resync(): void {
    for (const e of this.#entries.values()) if (e.written !== this.#render(e)) this.#schedule(e);
  }

  #raise(key: string, text: string, severity: Severity): void {
    const role = this.#deps.alertRoles?.[severity] ?? null;
    const now = this.#deps.clock.now();
    let e = this.#entries.get(key);
    if (e && now - e.firstAt < this.#deps.cooldownMs) {
      e.count += 1;
      e.lastAt = now;
      e.text = text;
      this.suppressed += 1;
    } else {
      this.#entries.delete(key);
      e = { key, firstAt: now, lastAt: now, count: 1, text, messageId: null, written: null, role };
      this.#entries.set(key, e);
      this.#prune(now);
    }
    this.#schedule(e);
  }

  /** Entries are in window-start order: drop expired ones, and the oldest beyond the cap. */
  #prune(now: number): void {
    for (const [k, e] of this.#entries) {
      if (this.#entries.size <= this.#deps.maxEntries && now - e.firstAt < this.#deps.cooldownMs) break;
      this.#entries.delete(k);
      this.#deps.throttle.forget(`alert:${k}`);
    }
  }

  #render(e: Entry): string {
    const repeat = e.count > 1 ? `\n-# ×${e.count} since ${relativeTime(e.firstAt)}, last ${relativeTime(e.lastAt)}` : '';
    const mention = e.role ? `<@&${e.role}> ` : '';
    return mention + cut(e.text, 2000 - repeat.length - mention.length) + repeat;
  }

  #schedule(e: Entry): void {
    this.#deps.throttle.request(`alert:${e.key}`, () => this.#write(e));
  }

  async #write(e: Entry): Promise<boolean> {
    const content = this.#render(e);
    if (content === e.written || this.#entries.get(e.key) !== e) return false;
    const { poster, channelId, logger } = this.#deps;
    try {
      if (e.messageId) {
        const outcome = await poster.edit(channelId, e.messageId, { content });
        if (outcome === 'ok') {
          e.written = content;
          return true;
        }
      }
      // Only a new message pings the role; an edit that counts repeats does not ping again.
      e.messageId = await poster.send(channelId, { content, ...(e.role ? { mentionRoles: [e.role] } : {}) });
      e.written = content;
    } catch (err) {
      if (err instanceof NotConnectedError) return false;
      // The poster logged the refusal once, with the fix; one line per alert would only repeat it.
      if (!channelRefusal(err)) logger.warn({ channelId, alert: e.key, ...describeError(err) }, 'discord: could not post alert');
    }
    return true;
  }
}
