// Small tools for the security suites: an in-memory pino sink, a socket that reports how it ended.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { createLogger, type Logger } from '../../lib/logger.ts';

const run = promisify(execFile);

/** Everything a pino logger wrote, as raw text (what would land in a log file). */
export class MemoryLog {
  text = '';
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      this.text += chunk.toString('utf8');
      cb();
    },
  });

  /** The product's own logger factory (redaction included), at the most verbose level. */
  logger(name: string): Logger {
    return createLogger({ level: 'trace', name, destination: this.stream });
  }

  lines(): Array<Record<string, unknown>> {
    return this.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/** A self-signed certificate for 127.0.0.1/localhost, written as cert.pem and key.pem in dir. */
export async function selfSigned(dir: string, name = 'hub'): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/${name}-cert.pem`;
  const key = `${dir}/${name}-key.pem`;
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { timeout: 20_000 });
  return { cert, key };
}

export interface Ended {
  /** ms from `since` until the socket closed. */
  afterMs: number;
  /** What the server sent before closing (an HTTP status line, or nothing). */
  received: string;
  error: string | null;
}

/** Resolves when the socket closes (reading everything so a FIN is seen); rejects after `deadlineMs`. */
export function whenClosed(sock: net.Socket, since: number, deadlineMs: number): Promise<Ended> {
  return new Promise((resolve, reject) => {
    let received = '';
    let error: string | null = null;
    sock.on('data', (c: Buffer) => (received += c.toString('latin1')));
    sock.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    const timer = setTimeout(() => reject(new Error(`the server kept the connection open for ${deadlineMs} ms`)), deadlineMs);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve({ afterMs: Date.now() - since, received, error });
    });
  });
}

/** Writes `text` one byte every `everyMs` until the socket closes or the text is out. */
export function trickle(sock: net.Socket, text: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (sock.destroyed || i >= text.length) {
      clearInterval(timer);
      return;
    }
    sock.write(text[i++]!);
  }, everyMs);
  return () => clearInterval(timer);
}

/**
 * The payloads of the WebSocket frames in a captured byte stream (after the HTTP
 * upgrade), unmasked: what an agent sends is masked on the wire (RFC 6455 §5.3), so
 * searching the raw bytes for a secret would prove nothing.
 */
export function wsPayloads(stream: Buffer): string[] {
  const head = stream.indexOf('\r\n\r\n');
  let off = head < 0 ? 0 : head + 4;
  const out: string[] = [];
  while (off + 2 <= stream.length) {
    const b1 = stream[off + 1]!;
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      len = stream.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      len = Number(stream.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const mask = masked ? stream.subarray(p, p + 4) : null;
    if (masked) p += 4;
    if (p + len > stream.length) break; // a frame cut off by the end of the capture
    const payload = Buffer.from(stream.subarray(p, p + len));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
    out.push(payload.toString('utf8'));
    off = p + len;
  }
  return out;
}
