import { randomBytes } from 'node:crypto';
import type { Clock } from '../../protocol/index.ts';
import { DiscordLimits } from './limits.ts';

export type ConfirmAction =
  | { kind: 'server'; action: 'stop' | 'restart'; serverId: string; warnAt?: number[] }
  | { kind: 'restore'; serverId: string; backupId: string; paths?: string[] }
  | { kind: 'update'; serverId: string; warnMinutes?: number[] };

export interface PendingConfirm {
  nonce: string;
  userId: string;
  action: ConfirmAction;
  expiresAt: number;
  /** The message the buttons were posted on; a press anywhere else is refused. Null until it is known. */
  messageId: string | null;
}

/** Answered nonces remembered, so a losing double click is told (and audited) as such. */
const ANSWERED_MAX = 1000;

const PREFIX = 'rs:confirm:';

/** custom_id carries only a random nonce; what it confirms stays on the hub, so a button cannot be forged or replayed. */
export function confirmIds(nonce: string): { yes: string; no: string } {
  const ids = { yes: `${PREFIX}${nonce}:yes`, no: `${PREFIX}${nonce}:no` };
  if (ids.yes.length > DiscordLimits.customId) throw new Error('confirm custom_id too long');
  return ids;
}

/**
 * What a custom_id looked like, for the audit log: never the raw text (a
 * client can send anything, mentions and markdown included), only its form.
 */
export function customIdShape(customId: string): string {
  const form = customId.slice(0, 120).replace(/[0-9a-f]{8,}/gi, '<hex>').replace(/[^A-Za-z0-9:<>._-]/g, '?').slice(0, 60);
  return `"${form}${customId.length > 120 ? '…' : ''}" (${customId.length} chars)`;
}

export function parseConfirmId(customId: string): { nonce: string; answer: 'yes' | 'no' } | null {
  const m = /^rs:confirm:([0-9a-f]{16,32}):(yes|no)$/.exec(customId);
  return m ? { nonce: m[1]!, answer: m[2] as 'yes' | 'no' } : null;
}

/** Confirmations waiting for a press; each expires after `ttlMs` and runs its `onExpire` once. */
export class ConfirmRegistry {
  readonly #pending = new Map<string, { p: PendingConfirm; timer: AbortController }>();
  readonly #answered = new Set<string>();
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #signal: AbortSignal;

  constructor(clock: Clock, ttlMs: number, signal: AbortSignal) {
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#signal = signal;
  }

  create(userId: string, action: ConfirmAction, onExpire: () => Promise<void>): PendingConfirm {
    const p: PendingConfirm = { nonce: randomBytes(8).toString('hex'), userId, action, expiresAt: this.#clock.now() + this.#ttlMs, messageId: null };
    const timer = new AbortController();
    this.#pending.set(p.nonce, { p, timer });
    this.#clock.sleep(this.#ttlMs, AbortSignal.any([timer.signal, this.#signal])).then(() => {
      if (this.#pending.get(p.nonce)?.p !== p) return;
      this.#pending.delete(p.nonce);
      return onExpire();
    }).catch(() => undefined);
    return p;
  }

  /** Ties a confirmation to the message its buttons are on. */
  bind(nonce: string, messageId: string): void {
    const e = this.#pending.get(nonce);
    if (e) e.p.messageId = messageId;
  }

  /** Whether this nonce was answered already (the losing click of a double click). */
  wasAnswered(nonce: string): boolean {
    return this.#answered.has(nonce);
  }

  /** The live confirmation for a nonce, or null when unknown or expired. */
  peek(nonce: string): PendingConfirm | null {
    const e = this.#pending.get(nonce);
    if (!e || this.#clock.now() >= e.p.expiresAt) return null;
    return e.p;
  }

  /** Removes and returns it; its expiry no longer fires. */
  take(nonce: string): PendingConfirm | null {
    const p = this.peek(nonce);
    if (!p) return null;
    this.#pending.get(nonce)?.timer.abort();
    this.#pending.delete(nonce);
    this.#answered.add(nonce);
    if (this.#answered.size > ANSWERED_MAX) this.#answered.delete(this.#answered.values().next().value as string);
    return p;
  }

  get size(): number {
    return this.#pending.size;
  }
}
