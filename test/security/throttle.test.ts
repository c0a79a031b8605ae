// Issue 7 §4: failed-auth throttling is per client address. The burst-then-429 behaviour
// itself is in test/hub/link/upgrade.test.ts (agents) and test/hub/http/api.test.ts (API);
// here: one address being throttled does not lock out another (real source addresses on
// 127.0.0.0/8), and X-Forwarded-For cannot be used to dodge it unless listen.trustProxy is set.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import { PROTOCOL_MAJOR } from '../../protocol/index.ts';
import { API_TOKEN, startHub, tempDir } from '../support/stack.ts';

/** One HTTP request (an agent upgrade or an API call) from a chosen local address; resolves with the status code. */
function request(hub: Hub, opts: { path: string; from?: string; token?: string; xff?: string; upgrade?: boolean }): Promise<number> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.xff) headers['x-forwarded-for'] = opts.xff;
  if (opts.upgrade) {
    Object.assign(headers, { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'x-reconsync-protocol': String(PROTOCOL_MAJOR) });
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: hub.port, path: opts.path, headers, localAddress: opts.from ?? '127.0.0.1', timeout: 5000 });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end();
  });
}

const BURST = 3;

describe('failed-auth throttling is per address', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let direct: Hub;
  let proxied: Hub;
  let token: string;
  let proxiedToken: string;
  before(async () => {
    const t = await tempDir('reconsync-sec-throttle-');
    dir = t.dir;
    cleanup = t.cleanup;
    const limits = { link: { authFailuresPerMinute: BURST }, http: { apiAuthFailuresPerMinute: BURST } };
    direct = await startHub(path.join(dir, 'direct'), limits);
    token = createToken(direct.store, 'box-1');
    proxied = await startHub(path.join(dir, 'proxied'), { ...limits, config: { listen: { host: '127.0.0.1', port: 0, trustProxy: true }, dataDir: path.join(dir, 'proxied'), api: { token: API_TOKEN } } });
    proxiedToken = createToken(proxied.store, 'box-1');
  });
  after(async () => {
    await direct?.close();
    await proxied?.close();
    await cleanup?.();
  });

  it('agent endpoint: 127.0.0.2 is throttled after its burst, 127.0.0.3 still gets in with a good token', async () => {
    for (let i = 0; i < BURST; i++) assert.equal(await request(direct, { path: '/agent', from: '127.0.0.2', token: `rsa_wrong${i}`, upgrade: true }), 401);
    assert.equal(await request(direct, { path: '/agent', from: '127.0.0.2', token, upgrade: true }), 429, 'even the right token waits');
    assert.equal(await request(direct, { path: '/agent', from: '127.0.0.3', token, upgrade: true }), 101);
  });

  it('API: the same, per address', async () => {
    for (let i = 0; i < BURST; i++) assert.equal(await request(direct, { path: '/api/v1/agents', from: '127.0.0.4', token: 'wrong-api-token' }), 401);
    assert.equal(await request(direct, { path: '/api/v1/agents', from: '127.0.0.4', token: API_TOKEN }), 429);
    assert.equal(await request(direct, { path: '/api/v1/agents', from: '127.0.0.5', token: API_TOKEN }), 200);
  });

  it('without trustProxy a made-up X-Forwarded-For does not reset the count', async () => {
    for (let i = 0; i < BURST; i++) assert.equal(await request(direct, { path: '/agent', from: '127.0.0.6', token: 'rsa_nope', xff: `198.51.100.${i}`, upgrade: true }), 401);
    assert.equal(await request(direct, { path: '/agent', from: '127.0.0.6', token, xff: '198.51.100.99', upgrade: true }), 429);
    assert.equal(await request(direct, { path: '/api/v1/agents', from: '127.0.0.6', token: 'x', xff: '198.51.100.98' }), 401);
  });

  it('with trustProxy the address is the one the proxy appended (right-most), so a client cannot pick it', async () => {
    // The attacker sends its own X-Forwarded-For; the proxy appends the real address (203.0.113.7).
    for (let i = 0; i < BURST; i++) assert.equal(await request(proxied, { path: '/agent', token: 'rsa_nope', xff: `10.0.0.${i}, 203.0.113.7`, upgrade: true }), 401);
    assert.equal(await request(proxied, { path: '/agent', token: proxiedToken, xff: '10.9.9.9, 203.0.113.7', upgrade: true }), 429);
    // Another client behind the same proxy is not affected.
    assert.equal(await request(proxied, { path: '/agent', token: proxiedToken, xff: '203.0.113.8', upgrade: true }), 101);
  });
});
