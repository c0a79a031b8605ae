import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { PalworldRestClient, palworldCall } from '../../../../agent/monitors/admin/palworld-rest.ts';
import { SatisfactoryApiClient, satisfactoryCall } from '../../../../agent/monitors/admin/satisfactory-api.ts';
import { AdminChannelError } from '../../../../agent/monitors/admin/common.ts';
import { ReconSyncError } from '../../../../protocol/errors.ts';
import { PalworldFake, SatisfactoryFake, makeSelfSignedCert } from '../fakes/http-games.ts';

const defaults = { shutdownWaitSec: 1, shutdownMessage: 'bye' };

async function rejectsWith(p: Promise<unknown>, reason: AdminChannelError['reason']): Promise<AdminChannelError> {
  const err = await p.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
  assert.ok(err instanceof AdminChannelError, `expected AdminChannelError, got ${String(err)}`);
  assert.equal(err.reason, reason, err.message);
  return err;
}

test('palworld command vocabulary maps onto REST calls', () => {
  assert.deepEqual(palworldCall('save', defaults), { method: 'POST', path: 'save' });
  assert.deepEqual(palworldCall('info', defaults), { method: 'GET', path: 'info' });
  assert.deepEqual(palworldCall('announce Restart in 5 min', defaults), { method: 'POST', path: 'announce', body: { message: 'Restart in 5 min' } });
  assert.deepEqual(palworldCall('shutdown', defaults), { method: 'POST', path: 'shutdown', body: { waittime: 1, message: 'bye' } });
  assert.deepEqual(palworldCall('shutdown 30 see you', defaults), { method: 'POST', path: 'shutdown', body: { waittime: 30, message: 'see you' } });
  assert.deepEqual(palworldCall('kick steam_1 afk', defaults), { method: 'POST', path: 'kick', body: { userid: 'steam_1', message: 'afk' } });
  assert.throws(() => palworldCall('rm -rf', defaults), (e: unknown) => e instanceof ReconSyncError && e.code === 'INVALID_PARAMS' && /save, announce/.test(e.message));
  assert.throws(() => palworldCall('announce', defaults), ReconSyncError);
});

test('palworld: Basic auth, save, announce and shutdown reach the API', async () => {
  const fake = new PalworldFake({ password: 'pal-admin' });
  const port = await fake.start();
  const client = new PalworldRestClient({ host: '127.0.0.1', port, password: 'pal-admin' });
  try {
    assert.equal(await client.exec('save'), 'OK');
    assert.equal(await client.exec('announce hello'), 'OK');
    assert.equal(await client.exec('shutdown 5 bye'), 'OK');
    assert.match(await client.exec('info'), /"version": "v0.3.11.0"/);
    assert.deepEqual(fake.calls.map((c) => [c.method, c.path, c.body]), [
      ['POST', 'save', undefined],
      ['POST', 'announce', { message: 'hello' }],
      ['POST', 'shutdown', { waittime: 5, message: 'bye' }],
      ['GET', 'info', undefined],
    ]);
    assert.equal(fake.calls[0]!.auth, `Basic ${Buffer.from('admin:pal-admin').toString('base64')}`);
  } finally {
    await client.close();
    await fake.close();
  }
});

test('palworld: wrong password is an auth error; a stalled call times out; no password is a config error', async () => {
  const fake = new PalworldFake({ password: 'pal-admin', stall: ['save'] });
  const port = await fake.start();
  try {
    const wrong = new PalworldRestClient({ host: '127.0.0.1', port, password: 'nope' });
    const err = await rejectsWith(wrong.exec('save'), 'auth');
    assert.equal(err.retryable, false);
    assert.match(err.message, /AdminPassword/);
    const slow = new PalworldRestClient({ host: '127.0.0.1', port, password: 'pal-admin', requestTimeoutMs: 150 });
    await rejectsWith(slow.exec('save'), 'timeout');
    assert.equal(await slow.exec('info').then((s) => s.length > 0), true, 'usable after a timeout');
    await rejectsWith(new PalworldRestClient({ host: '127.0.0.1', port, password: null }).exec('save'), 'config');
  } finally {
    await fake.close();
  }
});

test('satisfactory: API functions vs console commands', () => {
  assert.deepEqual(satisfactoryCall('Shutdown'), { function: 'Shutdown' });
  assert.deepEqual(satisfactoryCall('SaveGame {"SaveName":"x"}'), { function: 'SaveGame', data: { SaveName: 'x' } });
  assert.deepEqual(satisfactoryCall('server.SaveGame'), { function: 'RunCommand', data: { Command: 'server.SaveGame' } });
  assert.deepEqual(satisfactoryCall('FooBar'), { function: 'RunCommand', data: { Command: 'FooBar' } });
  assert.throws(() => satisfactoryCall('SaveGame {nope'), ReconSyncError);
});

let tls: { key: string; cert: string };
before(async () => {
  tls = await makeSelfSignedCert();
});

test('satisfactory: Bearer token over HTTPS with the self-signed certificate accepted', async () => {
  const fake = new SatisfactoryFake({ adminToken: 'admin-token' });
  const port = await fake.start(tls);
  const client = new SatisfactoryApiClient({ host: '127.0.0.1', port, password: 'admin-token', insecureTls: true });
  try {
    assert.equal(await client.exec('SaveGame {"SaveName":"reconsync"}'), 'OK');
    assert.equal(await client.exec('Shutdown'), 'OK');
    assert.equal(await client.exec('server.GetServerOptions'), 'ran server.GetServerOptions');
    assert.deepEqual(fake.calls.map((c) => c.body), [
      { function: 'SaveGame', data: { SaveName: 'reconsync' } },
      { function: 'Shutdown' },
      { function: 'RunCommand', data: { Command: 'server.GetServerOptions' } },
    ]);
    assert.ok(fake.calls.every((c) => c.auth === 'Bearer admin-token' && c.path === '/api/v1'));
  } finally {
    await fake.close();
  }
});

test('satisfactory: the self-signed certificate is refused when insecureTls is off', async () => {
  const fake = new SatisfactoryFake({ adminToken: 'admin-token' });
  const port = await fake.start(tls);
  try {
    const client = new SatisfactoryApiClient({ host: '127.0.0.1', port, password: 'admin-token', insecureTls: false });
    const err = await rejectsWith(client.exec('Shutdown'), 'connect');
    assert.match(err.message, /SELF_SIGNED|self.signed|certificate/i);
    assert.equal(fake.calls.length, 0);
  } finally {
    await fake.close();
  }
});

test('satisfactory: a wrong token is an auth error naming the API error code', async () => {
  const fake = new SatisfactoryFake({ adminToken: 'admin-token' });
  const port = await fake.start(tls);
  try {
    const client = new SatisfactoryApiClient({ host: '127.0.0.1', port, password: 'wrong', insecureTls: true });
    const err = await rejectsWith(client.exec('Shutdown'), 'auth');
    assert.match(err.message, /insufficient_scope/);
  } finally {
    await fake.close();
  }
});

