// A minimal Server-Sent Events reader for tests: real HTTP on loopback, frames parsed as they arrive.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { waitFor } from './wait.ts';

export interface SseFrame { id?: string; event?: string; data?: string; comment?: string }

export class SseClient {
  readonly frames: SseFrame[] = [];
  readonly res: http.IncomingMessage;
  readonly ended: Promise<void>;
  #buf = '';
  /** Emits 'change' after new frames arrived and when the stream ended. */
  readonly #changed = new EventEmitter();

  private constructor(readonly req: http.ClientRequest, res: http.IncomingMessage) {
    this.res = res;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.#buf += chunk;
      let i: number;
      while ((i = this.#buf.indexOf('\n\n')) >= 0) {
        const block = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 2);
        const f: SseFrame = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) f.comment = line.slice(1).trim();
          else {
            const c = line.indexOf(':');
            const key = line.slice(0, c) as 'id' | 'event' | 'data';
            f[key] = line.slice(c + 1).replace(/^ /, '');
          }
        }
        this.frames.push(f);
      }
      this.#changed.emit('change');
    });
    this.ended = new Promise((resolve) => {
      res.on('close', () => { this.#changed.emit('change'); resolve(); });
    });
  }

  static open(url: string, headers: Record<string, string>): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => resolve(new SseClient(req, res)));
      req.on('error', reject);
    });
  }

  /** Resolves once pred holds over the frames received so far. */
  async until(pred: (frames: SseFrame[]) => boolean, ms = 5000): Promise<SseFrame[]> {
    return waitFor(() => pred(this.frames) && this.frames, {
      timeoutMs: ms, what: 'SSE: the expected frames', wakeOn: { emitter: this.#changed, events: ['change'] },
      detail: () => `frames so far: ${JSON.stringify(this.frames).slice(0, 500)}`,
    });
  }

  events(): { id: number; kind: string; data: Record<string, unknown> }[] {
    return this.frames.filter((f) => f.data !== undefined).map((f) => ({ id: Number(f.id), kind: f.event ?? '', data: JSON.parse(f.data!) as Record<string, unknown> }));
  }

  close(): void {
    this.req.destroy();
  }
}
