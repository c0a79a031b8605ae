import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebRconClient, type WebRconOptions } from '../../../../agent/monitors/admin/webrcon.ts';
import { AdminChannelError } from '../../../../agent/monitors/admin/common.ts';
import { WebRconFake, type WebRconFakeOptions } from '../fakes/webrcon-server.ts';

const PASSWORD = 'rust pass/with?odd#chars';

async function withFake(
  fakeOpts: Partial<WebRconFakeOptions>,
  clientOpts: Partial<WebRconOptions>,
  body: (client: WebRconClient, fake: WebRconFake) => Promise<void>,
): Promise<void> {
  const fake = new WebRconFake({ password: PASSWORD, ...fakeOpts });
  const port = await fake.start();
  const client = new WebRconClient({ host: '127.0.0.1', port, password: PASSWORD, connectTimeoutMs: 2000, requestTimeoutMs: 2000, ...clientOpts });
  try {
    await body(client, fake);
  } finally {
    await client.close();
    await fake.close();
  }
}

async function rejectsWith(p: Promise<unknown>, reason: AdminChannelError['reason']): Promise<AdminChannelError> {
  const err = await p.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
  assert.ok(err instanceof AdminChannelError, `expected AdminChannelError, got ${String(err)}`);
  assert.equal(err.reason, reason, err.message);
  return err;
}

test('runs commands, matching replies by Identifier and ignoring console, chat and garbage', async () => {
  await withFake({}, {}, async (client, fake) => {
    assert.equal(await client.exec('server.save'), 'ok server.save');
    assert.equal(await client.exec('say "hello"'), 'ok say "hello"');
    assert.deepEqual(fake.commands, ['server.save', 'say "hello"']);
    assert.equal(fake.connections, 1);
  });
});

test('the password travels URL-encoded in the path', async () => {
  await withFake({}, {}, async (client) => {
    assert.equal(await client.exec('status'), 'ok status');
  });
});

test('wrong password, Rust style (accepted then closed): auth error', async () => {
  await withFake({ wrongPassword: 'close' }, { password: 'nope' }, async (client) => {
    const err = await rejectsWith(client.exec('status'), 'auth');
    assert.equal(err.retryable, false);
  });
});

test('wrong password refused with 401 in the handshake: auth error', async () => {
  await withFake({ wrongPassword: 'reject-401' }, { password: 'nope' }, async (client) => {
    await rejectsWith(client.exec('status'), 'auth');
  });
});

test('no reply within the timeout is a timeout; the connection stays usable', async () => {
  await withFake({ handler: (c) => (c === 'hang' ? null : `ok ${c}`) }, { requestTimeoutMs: 150 }, async (client, fake) => {
    await rejectsWith(client.exec('hang'), 'timeout');
    assert.equal(await client.exec('status'), 'ok status');
    assert.equal(fake.connections, 1);
  });
});

test('reconnects on next use after the server dropped the socket', async () => {
  await withFake({}, {}, async (client, fake) => {
    assert.equal(await client.exec('one'), 'ok one');
    fake.dropAll();
    let out: string;
    try {
      out = await client.exec('two');
    } catch (err) {
      assert.ok(err instanceof AdminChannelError && err.reason === 'closed', String(err));
      out = await client.exec('two');
    }
    assert.equal(out, 'ok two');
    assert.equal(fake.connections, 2);
  });
});

test('quit closes the socket: fine with allowDisconnect, an error without', async () => {
  await withFake({ exitCommands: ['quit'], noise: false }, {}, async (client) => {
    assert.equal(await client.exec('server.save'), 'ok server.save');
    assert.equal(await client.exec('quit', { allowDisconnect: true }), '');
    assert.equal(await client.exec('server.save'), 'ok server.save');
    await rejectsWith(client.exec('quit'), 'closed');
  });
});

test('nothing listening: connect error', async () => {
  const fake = new WebRconFake({ password: PASSWORD });
  const port = await fake.start();
  await fake.close();
  const client = new WebRconClient({ host: '127.0.0.1', port, password: PASSWORD });
  await rejectsWith(client.exec('status'), 'connect');
  await client.close();
});

test('no password configured: config error', async () => {
  const client = new WebRconClient({ host: '127.0.0.1', port: 1, password: null });
  await rejectsWith(client.exec('status'), 'config');
});
