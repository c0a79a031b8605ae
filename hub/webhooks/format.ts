import { createHmac } from 'node:crypto';
import type { WebhookConfig } from '../config.ts';
import type { HubEvent, Severity } from '../../protocol/event-kinds.ts';

/** Discord caps a message's content at 2000 characters; Slack's text is kept to the same. */
const TEXT_MAX = 2000;

const mark: Record<Severity, string> = { critical: '🔴', warning: '🟠', info: 'ℹ️' };

/** `sha256=<hex HMAC-SHA256 of the raw body>` (design.md §10): what X-ReconSync-Signature carries. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** One line a person reads: severity, subject, kind, message. */
export function eventText(e: HubEvent): string {
  const subject = e.serverId ?? e.agentId ?? 'hub';
  const text = `${mark[e.severity]} ${subject}: ${e.kind.replaceAll('_', ' ')}${e.message ? ` — ${e.message}` : ''}`;
  return text.length > TEXT_MAX ? `${text.slice(0, TEXT_MAX - 1)}…` : text;
}

export interface WebhookRequest {
  body: string;
  headers: Record<string, string>;
}

/** The POST for one event in the webhook's format. */
export function webhookRequest(hook: Pick<WebhookConfig, 'format' | 'secret'>, e: HubEvent, userAgent: string): WebhookRequest {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': userAgent };
  switch (hook.format) {
    case 'json': {
      const body = JSON.stringify(e);
      // The id lets a receiver drop a repeat: delivery is at least once.
      headers['x-reconsync-event-id'] = String(e.id);
      headers['x-reconsync-event-kind'] = e.kind;
      if (hook.secret !== undefined) headers['x-reconsync-signature'] = signature(hook.secret, body);
      return { body, headers };
    }
    case 'discord':
      // No pings from event text: a server name or message could hold @everyone.
      return { body: JSON.stringify({ content: eventText(e), username: 'ReconSync', allowed_mentions: { parse: [] } }), headers };
    case 'slack':
      // Slack reads <!channel>, <@U…> and links in text; a player name or game reply could hold them. Its own escapes.
      return { body: JSON.stringify({ text: slackEscape(eventText(e)) }), headers };
  }
}

/** Slack's three control characters in message text (api.slack.com, "Escaping text"). */
export function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
