// The fault injector itself: if it did not really cut, stall or delay, every fault test would pass for nothing.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { TcpProxy } from '../support/tcp-proxy.ts';

describe('TcpProxy', () => {
  let echo: net.Server;
  let proxy: TcpProxy;
  const serverSide: net.Socket[] = [];
  before(async () => {
    echo = net.createServer((s) => {
      serverSide.push(s);
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    proxy = await TcpProxy.start({ targetPort: (echo.address() as net.AddressInfo).port });
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
        const deadline = Date.now() + 2000;
        while (!got.includes(text)) {
          if (Date.now() > deadline) throw new Error(`no "${text}" (got "${got}")`);
          await once(sock, 'data', { signal: AbortSignal.timeout(2000) });
        }
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
    // A real echo would answer in well under 50 ms; the proof is that neither side saw a byte or a close in 200 ms.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(serverGot, '');
    assert.equal(c.received(), '');
    assert.equal(c.sock.destroyed || server.destroyed, false);
    proxy.resume();
    await c.waitFor('abc');
    assert.equal(c.received(), 'abc');
    c.sock.destroy();
  });

  it('delay: adds latency without reordering', async () => {
    const c = await client();
    proxy.delay(100);
    try {
      const t0 = Date.now();
      for (const ch of '12345') c.sock.write(ch);
      await c.waitFor('12345');
      assert.equal(c.received(), '12345');
      assert.ok(Date.now() - t0 >= 190, `round trip ${Date.now() - t0} ms`);
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
