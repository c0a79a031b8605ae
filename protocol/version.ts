/** Protocol major version. A hub refuses agents with another major (HTTP 426). */
export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_HEADER = 'x-reconsync-protocol';
export const AGENT_PATH = '/agent';
/** ws maxPayload on both ends; larger frames close the socket with 1009. */
export const MAX_FRAME_BYTES = 1024 * 1024;
export const HEARTBEAT_MS = 15_000;
export const DEAD_AFTER_MS = 45_000;

/** Close codes with a meaning of their own (design.md §5). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  /** A peer that breaks a limit on purpose or by malfunction (e.g. never reads what it is sent). */
  PolicyViolation: 1008,
  TooBig: 1009,
  /** The hub cannot take the session now (its store is failing): reconnect with backoff, re-send what was not acked. */
  TryAgainLater: 1013,
  Replaced: 4000,
  Revoked: 4001,
  BadHello: 4002,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
