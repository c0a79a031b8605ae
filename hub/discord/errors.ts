import { DiscordAPIError, DiscordjsError, DiscordjsErrorCodes, HTTPError } from 'discord.js';
import { ReconSyncError } from '../../protocol/index.ts';
import { cut } from './limits.ts';

/** Discord JSON error codes the bot reacts to (discord.md). */
export const DiscordCode = {
  UnknownChannel: 10003,
  UnknownMessage: 10008,
  UnknownInteraction: 10062,
  TooManyEditsOldMessage: 30046,
  AlreadyAcknowledged: 40060,
  MissingAccess: 50001,
  MissingPermissions: 50013,
  InvalidFormBody: 50035,
} as const;

export function apiCode(err: unknown): number | null {
  return err instanceof DiscordAPIError && typeof err.code === 'number' ? err.code : null;
}

/** Why Discord will not let the bot use a channel, and what the admin must do about it. */
export interface ChannelRefusal {
  status: number;
  code: number;
  reason: string;
  fix: string;
}

/**
 * A 403/404 about a channel is not going to pass on a retry: retrying only
 * counts towards Discord's 10,000 invalid requests per 10 minutes (then the IP
 * is banned). A message that is gone (10008) is not a refusal: it is re-posted.
 * A 401 is about the token, not the channel: the poster stops every request
 * until the next login instead (see ChannelPoster).
 */
export function channelRefusal(err: unknown): ChannelRefusal | null {
  if (err instanceof ChannelRefusedError) return err.refusal;
  if (!(err instanceof DiscordAPIError) || ![403, 404].includes(err.status) || err.code === DiscordCode.UnknownMessage) return null;
  const code = typeof err.code === 'number' ? err.code : 0;
  switch (code) {
    case DiscordCode.MissingPermissions:
      return { status: err.status, code, reason: 'Missing Permissions', fix: 'give the bot Send Messages, Embed Links and Read Message History in that channel' };
    case DiscordCode.MissingAccess:
      return { status: err.status, code, reason: 'Missing Access', fix: 'give the bot View Channel in that channel (and check the channel is in the bot\'s server)' };
    case DiscordCode.UnknownChannel:
      return { status: err.status, code, reason: 'Unknown Channel', fix: 'the channel was deleted or the id is wrong: pick an existing channel' };
    default:
      return { status: err.status, code, reason: err.message.slice(0, 100), fix: 'check the bot\'s permissions in that channel' };
  }
}

export function isInvalidToken(err: unknown): boolean {
  return (err instanceof DiscordjsError && err.code === DiscordjsErrorCodes.TokenInvalid)
    || (err instanceof DiscordAPIError && err.status === 401)
    || (err instanceof HTTPError && err.status === 401);
}

/**
 * What we log about a Discord failure. Never the URL: interaction and webhook
 * URLs carry a token that lets anyone answer as the bot.
 */
export function describeError(err: unknown): { code: number | string | null; status: number | null; message: string } {
  if (err instanceof DiscordAPIError) return { code: err.code, status: err.status, message: err.message };
  if (err instanceof HTTPError) return { code: null, status: err.status, message: err.message };
  if (err instanceof DiscordjsError) return { code: err.code, status: null, message: err.message };
  const e = err instanceof Error ? err : new Error(String(err));
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return { code: (e as { code?: string }).code ?? null, status: null, message: `${e.message}${cause}` };
}

/**
 * Room for an error's text in a reply: error messages may repeat what the user
 * typed (an unknown server id of 6000 characters), and a reply over Discord's
 * 2000 characters is refused, leaving the user with "interaction failed".
 */
export const USER_ERROR_MAX = 1500;

/** The text a Discord user sees for a failed action: the stable code and what to do. */
export function userMessage(err: unknown): string {
  if (err instanceof ReconSyncError) return cut(`❌ ${err.code}: ${err.message}`, USER_ERROR_MAX);
  return '❌ Something went wrong on the hub; the error is in its log.';
}

/** Thrown by the poster, without asking Discord again, for a channel Discord refused before. */
export class ChannelRefusedError extends Error {
  constructor(readonly channelId: string, readonly refusal: ChannelRefusal) {
    super(`Discord refused channel ${channelId} earlier (${refusal.status} ${refusal.reason}); ${refusal.fix}`);
    this.name = 'ChannelRefusedError';
  }
}

/** Thrown by the poster while the bot is not logged in. */
export class NotConnectedError extends Error {
  constructor() {
    super('not connected to Discord');
    this.name = 'NotConnectedError';
  }
}
