/**
 * Issue 10, defect 1 for the agent side: replies from game servers are
 * outside data. A WebRCON message, a Palworld REST (and Satisfactory API,
 * same HTTP client) reply and a Minecraft status nested thousands deep must
 * end as a clear error for that one call, never as a RangeError (WebRCON's
 * was thrown inside the socket's 'message' handler: the agent process ended).
 * Real servers on 127.0.0.1 send the raw bytes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocketServer } from 'ws';
import { AdminChannelError } from '../../agent/monitors/admin/common.ts';
import { PalworldRestClient } from '../../agent/monitors/admin/palworld-rest.ts';
import { satisfactoryCall } from '../../agent/monitors/admin/satisfactory-api.ts';
import { WebRconClient } from '../../agent/monitors/admin/webrcon.ts';
import { MinecraftPingError, encodeVarInt, pingMinecraft } from '../../agent/monitors/query/minecraft-ping.ts';
import { MAX_JSON_DEPTH, ReconSyncError } from '../../protocol/index.ts';
import { SlpFake } from '../agent/monitors/fakes/minecraft-slp.ts';
import { deepJsonText } from './fuzz-kit.ts';

const DEPTHS = [5_000, 100_000];
const TOO_DEEP = new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`);

async function rejectsProtocol(p: Promise<unknown>, label: string): Promise<void> {
  const err = await p.then(() => assert.fail(`${label}: expected a rejection`), (e: unknown) => e);
  assert.ok(err instanceof AdminChannelError, `${label}: expected AdminChannelError, got ${String(err)}`);
  assert.equal(err.reason, 'protocol', label);
  assert.match(err.message, TOO_DEEP, label);
}

test('a WebRCON reply nested deep fails that command, and the client keeps working', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  t.after(() => new Promise((r) => {
    for (const c of wss.clients) c.terminate();
    wss.close(r);
  }));
  let deep = '';
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const { Identifier, Message } = JSON.parse(data.toString()) as { Identifier: number; Message: string };
      const reply = Message === 'deep' ? deep : JSON.stringify(`ok ${Message}`);
      ws.send(`{"Identifier":${Identifier},"Type":"Generic","Message":${reply}}`);
    });
  });
  const client = new WebRconClient({ host: '127.0.0.1', port: (wss.address() as AddressInfo).port, password: 'pw', connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
  t.after(() => client.close());
  for (const depth of DEPTHS) {
    for (const asObject of [false, true]) {
      deep = deepJsonText(depth, '"x"', asObject);
      await rejectsProtocol(client.exec('deep'), `WebRCON depth ${depth}`);
      assert.equal(await client.exec('status'), 'ok status');
    }
  }
});

test('a Palworld REST reply nested deep is a protocol error, not a RangeError', async (t) => {
  let deep = '';
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(req.url?.endsWith('/info') ? deep : '{"players":[]}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((r) => {
    server.closeAllConnections();
    server.close(r);
  }));
  const client = new PalworldRestClient({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, password: 'pw', requestTimeoutMs: 5_000 });
  t.after(() => client.close());
  for (const depth of DEPTHS) {
    for (const asObject of [false, true]) {
      deep = deepJsonText(depth, '1', asObject);
      await rejectsProtocol(client.exec('info'), `Palworld depth ${depth}`);
      assert.match(await client.exec('players'), /"players"/);
    }
  }
});

test('Satisfactory API data typed by an operator is bounded before it is sent', () => {
  for (const depth of [MAX_JSON_DEPTH + 1, 5_000, 100_000]) {
    assert.throws(() => satisfactoryCall(`SaveGame {"SaveName":${deepJsonText(depth)}}`), (err: unknown) => err instanceof ReconSyncError && err.code === 'INVALID_PARAMS' && TOO_DEEP.test(err.message));
  }
  assert.deepEqual(satisfactoryCall('SaveGame {"SaveName":"a"}'), { function: 'SaveGame', data: { SaveName: 'a' } });
});

test('a Minecraft status nested deep is refused with a clear error', async (t) => {
  // 100 000 levels would pass the 1 MiB status packet cap (refused for its size, also fine).
  for (const depth of [5_000, 20_000]) {
    // The description's chat components, as a hostile server would nest them.
    const json = Buffer.from(`{"version":{"name":"1.21"},"players":{"online":1,"max":2},"description":${'{"text":"a","extra":['.repeat(depth)}"x"${']}'.repeat(depth)}}`);
    const body = Buffer.concat([encodeVarInt(0), encodeVarInt(json.length), json]);
    const fake = new SlpFake({ status: null, raw: Buffer.concat([encodeVarInt(body.length), body]) });
    const port = await fake.start();
    t.after(() => fake.close());
    const err = await pingMinecraft('127.0.0.1', port, AbortSignal.timeout(5_000)).then(() => assert.fail('expected a rejection'), (e: unknown) => e);
    assert.ok(err instanceof MinecraftPingError, String(err));
    assert.match(err.message, TOO_DEEP);
  }
});
