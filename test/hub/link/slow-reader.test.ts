// Issue 10 §4: an agent that sends hub.ping requests and never reads the answers took the hub from
// 98 MB to 1.27 GB, and its session was never closed. The hub must bound what it queues per session
// (ws.bufferedAmount), cut a peer that does not read, and free the session's state when it goes.
// The client here is a raw TCP socket doing the upgrade itself and then never reading again.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../../hub/hub.ts';
import type { Session } from '../../../hub/link/session.ts';
import { PROTOCOL_MAJOR, ReconSyncError } from '../../../protocol/index.ts';
import { newToken, startHub, tempDir, waitFor } from '../helpers.ts';

const LIMIT = 64 * 1024;
/** The flood gives up here: on the old code the hub just kept queueing (kernel buffers hold a few MB). */
const MAX_REQUESTS = 400_000;
const BATCH = 2000;

/** One client-to-server text frame; an all-zero mask key is valid and leaves the payload as is. */
function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

/** Upgrades, says hello, then stops reading for good; resolves once the hub answered 101. */
async function rawAgent(hub: Hub, token: string, agentId: string): Promise<net.Socket> {
  const sock = net.connect(hub.port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  sock.write(
    `GET /agent HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${token}\r\nX-ReconSync-Protocol: ${PROTOCOL_MAJOR}\r\n\r\n`,
  );
  let head = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      sock.off('data', onData);
      sock.pause();
      if (head.startsWith('HTTP/1.1 101')) resolve();
      else reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
    };
    sock.on('data', onData);
  });
  sock.write(frame(JSON.stringify({ type: 'hello', agentId, agentVersion: '0.1.0-test', protocol: PROTOCOL_MAJOR, servers: [], capabilities: [] })));
  return sock;
}

describe('a peer that does not read', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    // The inbound budget off: with it, the flood is read at 500 frames/s and the loopback's kernel buffers
    // (a few MB of answers) take a minute to fill before the hub's own queue grows (inbound-budget.test.ts).
    hub = await startHub(t.dir, { link: { maxBufferedBytes: LIMIT, inboundFramesPerSecond: 1e9, inboundFrameBurst: 1e9, inboundBytesPerSecond: 1e12, inboundByteBurst: 1e12 } });
  });
  after(async () => {
    await hub?.close();
    await cleanup?.();
  });

  it('flooding hub.ping without reading: the hub queues at most the limit, cuts the session and frees its state', async () => {
    const sock = await rawAgent(hub, newToken(hub, 'greedy'), 'greedy');
    const session: Session = await waitFor(() => hub.link.registry.get('greedy'), 5000, 'the session to open');
    // A call from the hub that the agent will never answer: it must fail at once when the session goes.
    const call = session.rpc.call('agent.ping', {}, { timeoutMs: 120_000 }).then(
      () => null,
      (err: unknown) => err,
    );

    let maxBuffered = 0;
    const watch = setInterval(() => (maxBuffered = Math.max(maxBuffered, session.ws.bufferedAmount)), 1);
    let closed = false;
    sock.once('close', () => (closed = true));
    let sent = 0;
    try {
      while (!closed && session.phase !== 'closed' && sent < MAX_REQUESTS) {
        const batch: Buffer[] = [];
        for (let i = 0; i < BATCH; i++, sent++) batch.push(frame(`{"type":"req","id":"${sent.toString(36).padStart(60, 'p')}","method":"hub.ping","params":{},"timeoutMs":1000}`));
        if (!sock.write(Buffer.concat(batch))) {
          await new Promise<void>((resolve) => {
            const done = () => (sock.off('drain', done), sock.off('close', done), resolve());
            sock.once('drain', done).once('close', done);
          });
        }
        // Let the hub work through what arrived before writing more.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await waitFor(() => session.phase === 'closed', 5000, `the hub to close the session (sent ${sent} requests, buffered ${session.ws.bufferedAmount} bytes)`);
    } finally {
      clearInterval(watch);
      sock.destroy();
    }

    // One answer (~110 bytes) may land on top of a full buffer before the check cuts the session.
    assert.ok(maxBuffered <= LIMIT + 1024, `the hub queued up to ${maxBuffered} bytes for a peer that does not read (limit ${LIMIT})`);
    assert.equal(hub.link.registry.get('greedy'), undefined, 'no longer the agent\'s session');
    assert.equal(hub.link.registry.awaitingHello(), 0, 'not tracked any more');
    assert.equal(hub.link.registry.connectedCount, 0);
    const err = await call;
    assert.ok(err instanceof ReconSyncError && err.code === 'DISCONNECTED', `pending call ended with ${String(err)}`);
    assert.equal(session.rpc.pendingCount, 0);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    assert.match(metrics, /\nreconsync_link_slow_peers_closed_total 1\n/);
    assert.equal(hub.service.listAgents().find((a) => a.id === 'greedy')?.connected, false);
  });
});
