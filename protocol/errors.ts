import { z } from 'zod';
import { errorMessage } from '../lib/error-message.ts';

/** Stable error codes: operators, scripts and Discord messages rely on them. */
export const ErrorCatalog = {
  AGENT_OFFLINE: { httpStatus: 503, retryable: true, hint: 'The agent is not connected; check that its service is running and can reach the hub.' },
  TIMEOUT: { httpStatus: 504, retryable: true, hint: 'The agent did not answer in time; it may still finish the action. Check the server status.' },
  DISCONNECTED: { httpStatus: 503, retryable: true, hint: 'The link to the agent dropped during the call; check the server status before retrying.' },
  UNKNOWN_SERVER: { httpStatus: 404, retryable: false, hint: 'No server with that id; list servers with /status or GET /api/v1/servers.' },
  UNKNOWN_AGENT: { httpStatus: 404, retryable: false, hint: 'No agent with that id; list agents with reconsync token list or GET /api/v1/agents.' },
  UNKNOWN_BACKUP: { httpStatus: 404, retryable: false, hint: 'No backup with that id for this server; list them with /backup list.' },
  UNKNOWN_METHOD: { httpStatus: 400, retryable: false, hint: 'The peer does not know this method; hub and agent versions may differ.' },
  BUSY: { httpStatus: 409, retryable: true, hint: 'Another job is running for this server; wait for it to finish.' },
  INVALID_PARAMS: { httpStatus: 400, retryable: false, hint: 'The request did not match the expected shape.' },
  FORBIDDEN: { httpStatus: 403, retryable: false, hint: 'You lack the role for this action.' },
  UNAUTHORIZED: { httpStatus: 401, retryable: false, hint: 'Send Authorization: Bearer <token>.' },
  NOT_SUPPORTED: { httpStatus: 422, retryable: false, hint: 'This game or server configuration does not support the action.' },
  NOT_MANAGED: { httpStatus: 422, retryable: false, hint: 'The agent only watches this server; add a start: section to manage it.' },
  CANCELLED: { httpStatus: 409, retryable: false, hint: 'The action was cancelled.' },
  ADMIN_CHANNEL: { httpStatus: 502, retryable: true, hint: 'The game admin channel (RCON/telnet/REST) failed; check its port and password.' },
  BACKUP_FAILED: { httpStatus: 500, retryable: true, hint: 'The backup failed; see the message and agent log.' },
  RESTORE_FAILED: { httpStatus: 500, retryable: false, hint: 'The restore failed and the previous world was put back; see the message.' },
  DISK_FULL: { httpStatus: 507, retryable: false, hint: 'Not enough free disk; free space or move dataDir.' },
  RATE_LIMITED: { httpStatus: 429, retryable: true, hint: 'Too many requests; slow down.' },
  INTERNAL: { httpStatus: 500, retryable: false, hint: 'Unexpected error; see the log.' },
} as const satisfies Record<string, { httpStatus: number; retryable: boolean; hint: string }>;

export type ErrorCode = keyof typeof ErrorCatalog;
export const errorCodes = Object.keys(ErrorCatalog) as [ErrorCode, ...ErrorCode[]];
export const ErrorCodeSchema = z.enum(errorCodes);

export const RpcErrorSchema = z.object({
  code: ErrorCodeSchema,
  message: z.string().max(4000),
  retryable: z.boolean(),
});
export type RpcErrorShape = z.infer<typeof RpcErrorSchema>;

/** An error with a stable code. Thrown across RPC, HTTP and Discord alike. */
export class ReconSyncError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message ?? ErrorCatalog[code].hint, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ReconSyncError';
    this.code = code;
    this.retryable = options?.retryable ?? ErrorCatalog[code].retryable;
  }
  get httpStatus(): number {
    return ErrorCatalog[this.code].httpStatus;
  }
  toJSON(): RpcErrorShape {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
  static from(shape: RpcErrorShape): ReconSyncError {
    return new ReconSyncError(shape.code, shape.message, { retryable: shape.retryable });
  }
}

/** Turns anything thrown into the wire shape, without leaking stack traces. */
export function toRpcError(err: unknown): RpcErrorShape {
  if (err instanceof ReconSyncError) return err.toJSON();
  const message = errorMessage(err);
  return { code: 'INTERNAL', message: message.slice(0, 4000), retryable: false };
}
