// Issue 7 §4: native TLS (listen.tls) with a self-signed certificate, and a real agent
// dialing wss:// that trusts it through hub.ca. An agent without that CA, or with
// another one, never gets a session. Slow clients on the TLS port are cut like on plain HTTP.
// (HTTPS, raw wss and the plain-HTTP-on-TLS-port case are in test/hub/http/tls.test.ts.)
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createAgent, type Agent } from '../../agent/agent.ts';
import { startHub, type Hub } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import { agentConfig, API_TOKEN, tempDir, waitFor } from '../support/stack.ts';
import { MemoryLog, selfSigned, trickle, whenClosed } from './helpers.ts';

const HEADERS_TIMEOUT_MS = 600;
const SLACK_MS = HEADERS_TIMEOUT_MS + 1500;

describe('TLS: hub with a self-signed certificate, real agents over wss', () => {
  let hub: Hub;
  let dir: string;
  let cleanup: () => Promise<void>;
  let ca: string;
  let otherCa: string;
  const agents: Agent[] = [];

  before(async () => {
    const t = await tempDir('reconsync-sec-tls-');
    dir = t.dir;
    cleanup = t.cleanup;
    const own = await selfSigned(dir, 'hub');
    ca = own.cert;
    otherCa = (await selfSigned(dir, 'stranger')).cert;
    hub = await startHub({
      config: { listen: { host: '127.0.0.1', port: 0, tls: { cert: path.basename(own.cert), key: path.basename(own.key) } }, dataDir: 'hub-data', api: { token: API_TOKEN }, configDir: dir },
      http: { headersTimeoutMs: HEADERS_TIMEOUT_MS },
    });
  });
  after(async () => {
    for (const a of agents) await a.close();
    await hub?.close();
    await cleanup?.();
  });

  async function agentWith(id: string, caFile: string | undefined, log: MemoryLog): Promise<Agent> {
    const token = createToken(hub.store, id);
    const agent = await createAgent({
      config: agentConfig(dir, { id, dataDir: path.join(dir, id), hub: { url: hub.agentUrl, token, ...(caFile ? { ca: caFile } : {}) }, servers: [] }),
      logger: log.logger('agent'),
      link: { backoff: { baseMs: 50, capMs: 200 } },
    });
    agents.push(agent);
    return agent;
  }

  it('an agent with hub.ca set to the certificate connects over wss, and RPCs work', async () => {
    assert.match(hub.agentUrl, /^wss:\/\/127\.0\.0\.1:\d+\/agent$/);
    const agent = await agentWith('tls-ok', ca, new MemoryLog());
    await waitFor(() => hub.link.registry.get('tls-ok')?.open && agent.link.connected, 10_000, 'the agent online over TLS');
    const pong = await hub.service.router.call({ agentId: 'tls-ok' }, 'agent.ping', {}, { timeoutMs: 5000 });
    assert.equal(typeof pong.now, 'number');
    // And the API on the same port answers over HTTPS to a client that trusts the same CA.
    const status = await new Promise<number>((resolve, reject) => {
      https.get(`${hub.url}/api/v1/agents`, { ca: [readFileSync(ca)], headers: { authorization: `Bearer ${API_TOKEN}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(status, 200);
  });

  for (const [name, caFile] of [['no CA', undefined], ['another CA', 'other']] as const) {
    it(`an agent with ${name} refuses the certificate: it never gets a session and says why`, async () => {
      const log = new MemoryLog();
      const id = `tls-${name.replace(/\W/g, '')}`;
      await agentWith(id, caFile === 'other' ? otherCa : undefined, log);
      // Several attempts fail the same way; none reaches the hub's upgrade handler.
      await waitFor(() => (log.text.match(/self.signed|SELF_SIGNED|certificate/gi) ?? []).length >= 2, 10_000, 'TLS failures in the agent log');
      assert.equal(hub.link.registry.get(id), undefined);
      assert.equal(hub.service.listAgents().find((a) => a.id === id)?.connected ?? false, false);
    });
  }

  it('a client that opens TCP and never starts the TLS handshake is cut by the header deadline', async () => {
    const sock = net.connect(hub.port, '127.0.0.1');
    await once(sock, 'connect', { signal: AbortSignal.timeout(2000) });
    const end = await whenClosed(sock, Date.now(), 10_000);
    assert.ok(end.afterMs < SLACK_MS, `closed after ${end.afterMs} ms`);
  });

  it('a client that trickles its TLS handshake a byte at a time is cut too', async () => {
    // Capture a real ClientHello, then replay it slowly.
    const hello = await clientHello();
    const sock = net.connect(hub.port, '127.0.0.1');
    await once(sock, 'connect', { signal: AbortSignal.timeout(2000) });
    const ended = whenClosed(sock, Date.now(), 10_000);
    const stop = trickle(sock, hello.toString('latin1'), 40);
    const end = await ended;
    stop();
    assert.ok(hello.length * 40 > 3 * SLACK_MS);
    assert.ok(end.afterMs < SLACK_MS, `closed after ${end.afterMs} ms`);
  });

  it('hub.close() does not wait for a client stuck before the handshake (default 10 s header deadline)', async () => {
    const own = await selfSigned(dir, 'closing');
    const other = await startHub({ config: { listen: { host: '127.0.0.1', port: 0, tls: own }, dataDir: path.join(dir, 'hub-closing'), api: { token: API_TOKEN } } });
    const sock = net.connect(other.port, '127.0.0.1');
    await once(sock, 'connect', { signal: AbortSignal.timeout(2000) });
    const ended = whenClosed(sock, Date.now(), 10_000);
    const t0 = Date.now();
    await Promise.race([other.close(), new Promise((_r, reject) => setTimeout(() => reject(new Error('hub.close() hung on a half-open TLS client')), 3000))]);
    assert.ok(Date.now() - t0 < 3000);
    assert.ok((await ended).afterMs < 3000);
  });

  it('after the handshake, headers trickled one byte at a time are cut at the header deadline', async () => {
    const sock = tls.connect({ port: hub.port, host: '127.0.0.1', ca: [await readFile(ca)] });
    await once(sock, 'secureConnect', { signal: AbortSignal.timeout(5000) });
    const ended = whenClosed(sock, Date.now(), 10_000);
    const stop = trickle(sock, `GET /agent HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Pad: ${'a'.repeat(200)}\r\n\r\n`, 40);
    const end = await ended;
    stop();
    assert.ok(end.afterMs < SLACK_MS, `closed after ${end.afterMs} ms`);
    assert.match(end.received, /^HTTP\/1\.1 408 /);
  });
});

/** The bytes a TLS client sends first, captured from a real handshake attempt against a throwaway listener. */
async function clientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (b: Buffer) => {
    resolve(b);
    s.destroy();
  })));
  const c = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
  c.on('error', () => undefined);
  const hello = await got;
  c.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return hello;
}
