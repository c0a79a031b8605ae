import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { startHub } from '../../../hub/hub.ts';
import { PROTOCOL_MAJOR } from '../../../protocol/index.ts';
import { API_TOKEN, newToken, signal, tempDir } from '../helpers.ts';

const run = promisify(execFile);

function get(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, headers: { Authorization: `Bearer ${API_TOKEN}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      })
      .on('error', reject);
  });
}

describe('hub over TLS', () => {
  it('serves HTTPS and wss with the configured certificate', async () => {
    const t = await tempDir();
    const cert = path.join(t.dir, 'cert.pem');
    const key = path.join(t.dir, 'key.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { timeout: 20_000 });
    const ca = await readFile(cert);
    const hub = await startHub({ config: { listen: { host: '127.0.0.1', port: 0, tls: { cert: 'cert.pem', key: 'key.pem' } }, dataDir: 'data', api: { token: API_TOKEN }, configDir: t.dir } });
    try {
      assert.match(hub.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(hub.agentUrl, /^wss:\/\//);
      assert.deepEqual(await get(`${hub.url}/healthz`, ca), { status: 200, body: '{"status":"ok"}' });
      assert.equal((await get(`${hub.url}/api/v1/agents`, ca)).status, 200);
      // Plain HTTP on the TLS port gets nowhere.
      await assert.rejects(fetch(`${hub.url.replace('https', 'http')}/healthz`));

      const token = newToken(hub, 'box-1');
      const ws = new WebSocket(hub.agentUrl, { ca, perMessageDeflate: false, headers: { Authorization: `Bearer ${token}`, 'X-ReconSync-Protocol': String(PROTOCOL_MAJOR) } });
      await once(ws, 'open', { signal: signal() });
      ws.send(JSON.stringify({ type: 'hello', agentId: 'box-1', agentVersion: 't', protocol: PROTOCOL_MAJOR, servers: [], capabilities: [] }));
      const [data] = (await once(ws, 'message', { signal: signal() })) as [Buffer];
      assert.equal(JSON.parse(data.toString()).type, 'welcome');
      ws.terminate();

      // An untrusted certificate is refused by the client: TLS is real, not decorative.
      const bad = new WebSocket(hub.agentUrl, { perMessageDeflate: false, headers: { Authorization: `Bearer ${token}` } });
      const [err] = (await once(bad, 'error', { signal: signal() })) as [Error & { code?: string }];
      assert.match(String(err.code ?? err.message), /SELF_SIGNED|self.signed/i);
    } finally {
      await hub.close();
      await t.cleanup();
    }
  });
});
