import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCatalog, ReconSyncError, parseJsonBounded, type ErrorCode } from '../../protocol/index.ts';

/** An HTTP-level refusal (status may differ from the error code's own, e.g. 413 or 415). */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;
  constructor(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/** `{ ok: false, error: { code, message } }` with the catalog's HTTP status. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof HttpError) {
    sendJson(res, err.status, { ok: false, error: { code: err.code, message: err.message } }, err.headers);
    return;
  }
  const e = err instanceof ReconSyncError ? err : new ReconSyncError('INTERNAL', 'unexpected error; see the hub log');
  sendJson(res, ErrorCatalog[e.code].httpStatus, { ok: false, error: { code: e.code, message: e.message } });
}

export interface BodyLimits {
  maxBytes: number;
}

/**
 * Reads a JSON body: capped, JSON content type only, empty allowed (→ undefined).
 * Stops reading as soon as the cap is passed.
 */
export async function readJsonBody(req: IncomingMessage, limits: BodyLimits): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limits.maxBytes) throw new HttpError(413, 'INVALID_PARAMS', `request body over ${limits.maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limits.maxBytes) throw new HttpError(413, 'INVALID_PARAMS', `request body over ${limits.maxBytes} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'INVALID_PARAMS', 'send the body as Content-Type: application/json');
  // Depth-checked before parsing: zod, the service layer and the audit log walk the body afterwards.
  const json = parseJsonBounded(Buffer.concat(chunks).toString('utf8'), 'request body');
  if (!json.ok) throw new HttpError(400, 'INVALID_PARAMS', json.error);
  return json.value;
}
