// The fault injector itself: if it did not really cut, stall or delay, every fault test would pass for nothing.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../support/fake-clock.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait.ts';

describe('TcpProxy', () => {
  let echo: net.Server;
  let proxy: TcpProxy;
  /** Only delay() reads it: the other faults move no time. */
  const clock = new FakeClock();
  const serverSide: net.Socket[] = [];
  before(async () => {
    echo = net.createServer((s) => {
      serverSide.push(s);
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    proxy = await TcpProxy.start({ targetPort: (echo.address() as net.AddressInfo).port, clock });
  });
  after(async () => {
    await proxy.close();
    for (const s of serverSide) s.destroy();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  async function client(): Promise<{ sock: net.Socket; received: () => string; waitFor: (text: string) => Promise<void> }> {
    const sock = net.connect(proxy.port, '127.0.0.1');
    sock.on('error', () => undefined);
    let got = '';
    sock.on('data', (c: Buffer) => (got += c.toString()));
    await Promise.all([once(sock, 'connect', { signal: AbortSignal.timeout(2000) }), proxy.nextConnection(AbortSignal.timeout(2000))]);
    return {
      sock,
      received: () => got,
      waitFor: async (text) => {
        await waitFor(() => got.includes(text), { timeoutMs: 2000, what: `"${text}"`, detail: () => `got "${got}"`, wakeOn: { emitter: sock, events: ['data'] } });
      },
    };
  }

  /** Resolves with the error code the socket closed with ('' for a clean close). */
  function closedWith(sock: net.Socket): Promise<string> {
    return new Promise((resolve, reject) => {
      let code = '';
      const timer = setTimeout(() => reject(new Error('socket did not close')), 2000);
      sock.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? 'error'));
      sock.once('close', () => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  it('forwards both ways', async () => {
    const c = await client();
    c.sock.write('hello');
    await c.waitFor('hello');
    c.sock.destroy();
  });

  it('cut: the client sees the connection reset, the server side closes too', async () => {
    const c = await client();
    const server = serverSide.at(-1)!;
    const clientErr = closedWith(c.sock);
    const serverErr = closedWith(server);
    proxy.cut();
    assert.equal(await clientErr, 'ECONNRESET');
    assert.equal(await serverErr, 'ECONNRESET');
  });

  it('stall: nothing moves and nothing closes; resume delivers what was held, in order', async () => {
    const c = await client();
    const server = serverSide.at(-1)!;
    let serverGot = '';
    server.on('data', (b: Buffer) => (serverGot += b.toString()));
    proxy.stall();
    c.sock.write('a');
    c.sock.write('b');
    c.sock.write('c');
    // The proof that nothing moved: the proxy holds all three bytes, so neither side can have seen them.
    await waitFor(() => proxy.heldBytes('up') === 3, { timeoutMs: 2000, what: 'the proxy holding the three bytes', wakeOn: { emitter: proxy, events: ['held'] } });
    assert.equal(serverGot, '');
    assert.equal(c.received(), '');
    assert.equal(c.sock.destroyed || server.destroyed, false);
    proxy.resume();
    await c.waitFor('abc');
    assert.equal(c.received(), 'abc');
    c.sock.destroy();
  });

  it('delay: adds latency each way without reordering', async () => {
    const c = await client();
    const server = serverSide.at(-1)!;
    let serverGot = '';
    server.on('data', (b: Buffer) => (serverGot += b.toString()));
    proxy.delay(100);
    try {
      for (const ch of '12345') c.sock.write(ch);
      const held = (dir: 'up' | 'down', bytes: number) =>
        waitFor(() => proxy.heldBytes(dir) === bytes, { timeoutMs: 2000, what: `${bytes} bytes held ${dir}`, wakeOn: { emitter: proxy, events: ['held'] } });
      await held('up', 5);
      await clock.advance(99);
      assert.equal(proxy.heldBytes('up'), 5, 'nothing leaves before its 100 ms');
      await clock.advance(1);
      await waitFor(() => serverGot === '12345', { timeoutMs: 2000, what: 'the server to get 12345', wakeOn: { emitter: server, events: ['data'] } });
      // The echo comes back through the same delay.
      await held('down', 5);
      await clock.advance(99);
      assert.equal(c.received(), '');
      await clock.advance(1);
      await c.waitFor('12345');
      assert.equal(c.received(), '12345');
    } finally {
      proxy.delay(0);
      c.sock.destroy();
    }
  });

  it('refuse: new connections are reset, and accepted again afterwards', async () => {
    proxy.refuse(true);
    const sock = net.connect(proxy.port, '127.0.0.1');
    assert.equal(await closedWith(sock), 'ECONNRESET');
    proxy.refuse(false);
    const c = await client();
    c.sock.write('back');
    await c.waitFor('back');
    c.sock.destroy();
  });
});
