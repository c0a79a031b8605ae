// Issue 7 §4: upgrade and header timeouts. A client that sends its request one byte at a
// time (slowloris) is cut within http.headersTimeoutMs no matter how steadily it trickles,
// and a crowd of them does not keep a real agent out or the hub from answering.
// (Partial headers followed by silence, and the 503 cap on pending upgrades, are in test/hub/link/upgrade.test.ts.)
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAgent } from '../../agent/agent.ts';
import type { Hub } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import { PROTOCOL_MAJOR } from '../../protocol/index.ts';
import { agentConfig, startHub, tempDir, waitFor } from '../support/stack.ts';
import { trickle, whenClosed } from './helpers.ts';

const HEADERS_TIMEOUT_MS = 600;
/** Node checks header deadlines on an interval (the hub sets it to min(1 s, headersTimeoutMs)); allow one tick and scheduling noise. */
const SLACK_MS = HEADERS_TIMEOUT_MS + 1500;

describe('slow clients', () => {
  let hub: Hub;
  let dir: string;
  let cleanup: () => Promise<void>;
  let token: string;
  before(async () => {
    const t = await tempDir('reconsync-sec-slow-');
    dir = t.dir;
    cleanup = t.cleanup;
    hub = await startHub(path.join(dir, 'hub-data'), { http: { headersTimeoutMs: HEADERS_TIMEOUT_MS } });
    token = createToken(hub.store, 'box-1');
  });
  after(async () => {
    await hub?.close();
    await cleanup?.();
  });

  const upgradeRequest = () => `GET /agent HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n`
    + `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${token}\r\nX-ReconSync-Protocol: ${PROTOCOL_MAJOR}\r\n\r\n`;

  async function slowClient(text: string, everyMs: number): Promise<{ ended: Promise<Awaited<ReturnType<typeof whenClosed>>>; stop: () => void }> {
    const sock = net.connect(hub.port, '127.0.0.1');
    const since = Date.now();
    const ended = whenClosed(sock, since, 10_000);
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    return { ended, stop: trickle(sock, text, everyMs) };
  }

  it('an upgrade request trickled one byte every 40 ms (a valid token inside) is cut at the header deadline with 408', async () => {
    const req = upgradeRequest();
    // At this pace the request would need ~10 s; the server must not wait for it.
    assert.ok(req.length * 40 > 3 * SLACK_MS);
    const c = await slowClient(req, 40);
    const end = await c.ended;
    c.stop();
    assert.ok(end.afterMs >= HEADERS_TIMEOUT_MS - 50 && end.afterMs < SLACK_MS, `cut after ${end.afterMs} ms`);
    assert.match(end.received, /^HTTP\/1\.1 408 /);
    assert.equal(hub.link.registry.get('box-1'), undefined, 'no session was created');
  });

  it('an API request trickled the same way is cut too', async () => {
    const c = await slowClient(`GET /api/v1/servers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'z'.repeat(400)}\r\n\r\n`, 40);
    const end = await c.ended;
    c.stop();
    assert.ok(end.afterMs < SLACK_MS, `cut after ${end.afterMs} ms`);
  });

  it('a connection that sends nothing at all is closed by the same deadline', async () => {
    const sock = net.connect(hub.port, '127.0.0.1');
    const end = await whenClosed(sock, Date.now(), 10_000);
    assert.ok(end.afterMs < SLACK_MS, `closed after ${end.afterMs} ms`);
  });

  it('200 slow clients at once: each is cut in time, /healthz answers and a real agent connects meanwhile', async () => {
    const crowd = await Promise.all(Array.from({ length: 200 }, () => slowClient(upgradeRequest(), 50)));
    try {
      const health = await fetch(`${hub.url}/healthz`, { signal: AbortSignal.timeout(3000) });
      assert.equal(health.status, 200);
      const agent = await createAgent({ config: agentConfig(dir, { id: 'box-1', hub: { url: hub.agentUrl, token }, servers: [] }), link: { backoff: { baseMs: 50, capMs: 200 } } });
      try {
        await waitFor(() => hub.link.registry.get('box-1')?.open, 5000, 'the agent online during the attack');
      } finally {
        await agent.close();
      }
      const ends = await Promise.all(crowd.map((c) => c.ended));
      const slowest = Math.max(...ends.map((e) => e.afterMs));
      assert.ok(slowest < SLACK_MS + 1000, `the last slow client was cut after ${slowest} ms`);
    } finally {
      for (const c of crowd) c.stop();
    }
  });
});
