/**
 * A small JSON-over-HTTP(S) call for the Palworld REST API and the Satisfactory
 * HTTPS API. node:http/https rather than fetch: fetch cannot accept one game's
 * self-signed certificate without an undici Agent, which is not a dependency.
 */
import http from 'node:http';
import https from 'node:https';
import { parseJsonBounded } from '../../../protocol/json-bounds.ts';
import { errorCodeOrMessage } from '../../../lib/error-message.ts';
import { AdminChannelError, withDeadline } from './common.ts';

export interface HttpJsonRequest {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Sent as JSON when given. */
  body?: unknown;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Accept a self-signed certificate (Satisfactory). */
  insecureTls?: boolean;
  /** Replies larger than this are refused. */
  maxBytes?: number;
  /** Names the service in errors, e.g. "Palworld REST 127.0.0.1:8212". */
  label: string;
}

export interface HttpJsonResponse {
  status: number;
  text: string;
  /** Parsed JSON, or undefined for an empty or non-JSON body. */
  json: unknown;
}

export const HTTP_MAX_REPLY_BYTES = 4 * 1024 * 1024;

/** Sends one request; resolves for any HTTP status (the caller decides), rejects on network failure or timeout. */
export function httpJson(req: HttpJsonRequest): Promise<HttpJsonResponse> {
  const maxBytes = req.maxBytes ?? HTTP_MAX_REPLY_BYTES;
  return withDeadline((signal) => new Promise<HttpJsonResponse>((resolve, reject) => {
    const url = new URL(req.url);
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const options: https.RequestOptions = { method: req.method, headers, signal };
    if (url.protocol === 'https:') {
      options.rejectUnauthorized = !req.insecureTls;
      options.minVersion = 'TLSv1.2';
    }
    const r = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          res.destroy();
          reject(new AdminChannelError('protocol', `${req.label} sent more than ${maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', (err) => reject(new AdminChannelError('closed', `${req.label}: ${errorCodeOrMessage(err)}`, { cause: err })));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        if (text.trim()) {
          // Depth-checked first: callers stringify and walk the reply (a game's reply is outside data).
          const parsed = parseJsonBounded(text, `${req.label} reply`);
          if (!parsed.ok && parsed.reason === 'depth') {
            reject(new AdminChannelError('protocol', parsed.error));
            return;
          }
          json = parsed.ok ? parsed.value : undefined;
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    r.on('error', (err) => reject(signal.aborted ? signal.reason : new AdminChannelError('connect', `cannot reach ${req.label}: ${errorCodeOrMessage(err)}`, { cause: err })));
    r.end(payload);
  }), {
    timeoutMs: req.timeoutMs,
    signal: req.signal,
    onTimeout: () => new AdminChannelError('timeout', `${req.label} did not answer within ${req.timeoutMs} ms`),
  });
}

/** Maps a non-2xx status to the ADMIN_CHANNEL error that says what to check. */
export function httpStatusError(label: string, res: HttpJsonResponse, secretName: string): AdminChannelError {
  if (res.status === 401 || res.status === 403) return new AdminChannelError('auth', `${label} refused the credentials (HTTP ${res.status}); check ${secretName}`);
  return new AdminChannelError('http', `${label} answered HTTP ${res.status}${res.text ? `: ${res.text.slice(0, 300)}` : ''}`);
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
