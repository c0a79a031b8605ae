// A real HTTP receiver on 127.0.0.1 for webhook tests: records every request; its answer is up to the test.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './wait.ts';

export interface Received { headers: http.IncomingHttpHeaders; body: string; at: number }

export class WebhookReceiver {
  readonly received: Received[] = [];
  /** Status to answer; 'hang' never answers (a dead endpoint). */
  answer: number | 'hang' | ((r: Received) => number | 'hang') = 204;
  readonly server: http.Server;
  /** Emits 'change' after each request is recorded. */
  readonly #changed = new EventEmitter();

  private constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        this.received.push(r);
        this.#changed.emit('change');
        const a = typeof this.answer === 'function' ? this.answer(r) : this.answer;
        if (a === 'hang') return;
        res.writeHead(a).end();
      });
    });
  }

  static async start(port = 0): Promise<WebhookReceiver> {
    const r = new WebhookReceiver();
    await new Promise<void>((resolve) => r.server.listen(port, '127.0.0.1', resolve));
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async until(pred: (rs: Received[]) => boolean, ms = 5000): Promise<Received[]> {
    return waitFor(() => pred(this.received) && this.received, {
      timeoutMs: ms, what: 'webhook receiver: the expected requests', wakeOn: { emitter: this.#changed, events: ['change'] },
      detail: () => `got ${this.received.length}: ${this.received.map((r) => r.body).join(' | ').slice(0, 500)}`,
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
