import { EventEmitter } from 'node:events';
import { waitFor } from '../wait.ts';
import { snowflake } from './snowflake.ts';
import type { Json } from './limits.ts';

export interface FakeUser {
  id: string;
  username?: string;
  /** Guild role ids of this member. */
  roles?: string[];
}

export interface FakeMessage {
  id: string;
  channelId: string;
  authorId: string;
  content: string;
  embeds: Json[];
  components: Json[];
  flags: number;
  createdAt: number;
  editedAt: number | null;
  edits: number;
  deleted: boolean;
  /** Set for interaction replies and follow-ups. */
  interactionId: string | null;
  /** A deferred reply whose content has not been sent yet ("thinking…"). */
  loading: boolean;
}

/** A public thread started from a message (type 11); its id is the message's, as Discord does. */
export interface FakeThread {
  id: string;
  parentId: string;
  messageId: string;
  name: string;
  archived: boolean;
  autoArchiveMinutes: number;
  createdAt: number;
}

export interface RecordedCall {
  method: string;
  /** Decoded path below /api/v10, e.g. /channels/1/messages/2 */
  path: string;
  query: string;
  body: unknown;
  at: number;
  status: number;
  /** The route with ids replaced, e.g. PATCH /channels/:id/messages/:id */
  route: string;
}

export type InteractionKind = 'command' | 'autocomplete' | 'button';

export interface FakeInteraction {
  id: string;
  token: string;
  kind: InteractionKind;
  user: FakeUser;
  channelId: string;
  createdAt: number;
  /** Callback types received, in order (the first one acknowledges). */
  callbacks: { type: number; data: Json | null; at: number }[];
  /** Message that @original refers to, once there is one. */
  originalId: string | null;
  followupIds: string[];
  choices: unknown[] | null;
  /** True once the 3 s deadline passed without a callback. */
  expired: boolean;
  /** For buttons: the message the button was on. */
  sourceMessageId: string | null;
}

/**
 * A channel the bot may not use, as Discord answers it: deleted (404 10003),
 * not visible to the bot (403 50001, on every request), or visible but
 * without Send Messages / Embed Links (403 50013 on writes).
 */
export type ChannelFault = 'unknown_channel' | 'missing_access' | 'missing_permissions';

export interface InjectedFailure {
  method: string;
  route: RegExp;
  remaining: number;
  status: number;
  code: number;
  message: string;
  retryAfterSec?: number;
}

/** Everything the fake remembers; REST and gateway write here, tests read it. */
export class FakeState extends EventEmitter {
  readonly calls: RecordedCall[] = [];
  readonly violations: string[] = [];
  readonly messages = new Map<string, FakeMessage>();
  readonly interactions = new Map<string, FakeInteraction>();
  readonly interactionsByToken = new Map<string, FakeInteraction>();
  readonly commands = new Map<string, Json[]>(); // scope ('global' or guild id) → commands
  readonly failures: InjectedFailure[] = [];
  readonly channelFaults = new Map<string, ChannelFault>();
  readonly threads = new Map<string, FakeThread>();
  commandPuts = 0;

  changed(): void {
    this.emit('change');
  }

  violate(what: string): void {
    this.violations.push(what);
    this.changed();
  }

  newMessage(init: Partial<FakeMessage> & { channelId: string; authorId: string }): FakeMessage {
    const now = Date.now();
    const m: FakeMessage = {
      id: snowflake(now), content: '', embeds: [], components: [], flags: 0, createdAt: now, editedAt: null,
      edits: 0, deleted: false, interactionId: null, loading: false, ...init,
    };
    this.messages.set(m.id, m);
    return m;
  }

  /** Visible (non-deleted, non-ephemeral) messages of a channel, oldest first. */
  channelMessages(channelId: string): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.channelId === channelId && !m.deleted && (m.flags & 64) === 0);
  }

  takeFailure(method: string, path: string): InjectedFailure | null {
    const f = this.failures.find((x) => x.remaining > 0 && x.method === method && x.route.test(path));
    if (!f) return null;
    f.remaining -= 1;
    return { ...f };
  }

  /** Resolves with the first truthy value of `probe`, re-checked after every change. */
  async waitFor<T>(probe: () => T | null | undefined | false, opts: { timeoutMs?: number; what?: string } = {}): Promise<T> {
    return (await waitFor(probe, { timeoutMs: opts.timeoutMs ?? 5000, what: `fake discord: ${opts.what ?? 'a condition'}`, wakeOn: { emitter: this, events: ['change'] } })) as T;
  }
}

export function routeOf(method: string, path: string): string {
  return `${method} ${path.replace(/\/\d{5,}/g, '/:id').replace(/\/(interactions|webhooks)\/:id\/[^/]+/, '/$1/:id/:token')}`;
}
