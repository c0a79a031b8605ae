// A real HTTP receiver on 127.0.0.1 for webhook tests: records every request; its answer is up to the test.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received { headers: http.IncomingHttpHeaders; body: string; at: number }

export class WebhookReceiver {
  readonly received: Received[] = [];
  /** Status to answer; 'hang' never answers (a dead endpoint). */
  answer: number | 'hang' | ((r: Received) => number | 'hang') = 204;
  readonly server: http.Server;
  #waiters: (() => void)[] = [];

  private constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
        this.received.push(r);
        for (const w of this.#waiters.splice(0)) w();
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
    const deadline = Date.now() + ms;
    while (!pred(this.received)) {
      if (Date.now() > deadline) throw new Error(`webhook receiver: timed out; got ${this.received.length}: ${this.received.map((r) => r.body).join(' | ').slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.received;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
