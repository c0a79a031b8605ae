import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TelnetClient, cleanTelnetOutput, stripTelnetCommands, type TelnetOptions } from '../../../../agent/monitors/admin/telnet.ts';
import { AdminChannelError } from '../../../../agent/monitors/admin/common.ts';
import { TelnetFake, type TelnetFakeOptions } from '../fakes/telnet-server.ts';

const PASSWORD = 'telnet-secret';

async function withFake(
  fakeOpts: Partial<TelnetFakeOptions>,
  clientOpts: Partial<TelnetOptions>,
  body: (client: TelnetClient, fake: TelnetFake) => Promise<void>,
): Promise<void> {
  const fake = new TelnetFake({ password: PASSWORD, ...fakeOpts });
  const port = await fake.start();
  const client = new TelnetClient({ host: '127.0.0.1', port, password: PASSWORD, connectTimeoutMs: 2000, authTimeoutMs: 2000, requestTimeoutMs: 2000, quietMs: 80, ...clientOpts });
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

test('stripTelnetCommands drops IAC sequences and carries a split one over', () => {
  const { data, carry } = stripTelnetCommands(Buffer.from([0x41, 0xff, 0xfb, 0x01, 0x42, 0xff, 0xff, 0x43, 0xff, 0xfd]));
  assert.deepEqual([...data], [0x41, 0x42, 0xff, 0x43]);
  assert.deepEqual([...carry], [0xff, 0xfd]);
  const sub = stripTelnetCommands(Buffer.from([0x61, 0xff, 0xfa, 0x18, 0x01, 0xff, 0xf0, 0x62]));
  assert.equal(sub.data.toString(), 'ab');
});

test('cleanTelnetOutput removes the command echo and CRs', () => {
  assert.equal(cleanTelnetOutput("2024-05-01T12:00:00 1.0 INF Executing command 'lp' by Telnet from 127.0.0.1:1\r\nTotal of 0 in the game\r\n"), 'Total of 0 in the game');
});

test('logs in with the password and returns a multi-chunk reply without the echo', async () => {
  const lines = ['1. id=171, Alice, pos=(1, 2, 3)', '2. id=172, Bob, pos=(4, 5, 6)', 'Total of 2 in the game'];
  await withFake({ handler: (c) => (c === 'listplayers' ? lines : [`ok ${c}`]) }, {}, async (client, fake) => {
    assert.equal(await client.exec('listplayers'), lines.join('\n'));
    assert.equal(await client.exec('saveworld'), 'ok saveworld');
    assert.deepEqual(fake.commands, ['listplayers', 'saveworld']);
    assert.equal(fake.connections, 1);
  });
});

test('no password asked (localhost without TelnetPassword): straight to commands', async () => {
  await withFake({ password: null }, { password: null }, async (client) => {
    assert.equal(await client.exec('gettime'), 'ok gettime');
  });
});

test('wrong password: auth error, not retryable', async () => {
  await withFake({}, { password: 'wrong' }, async (client, fake) => {
    const err = await rejectsWith(client.exec('saveworld'), 'auth');
    assert.equal(err.retryable, false);
    assert.deepEqual(fake.commands, []);
  });
});

test('a password prompt with no password configured: config error', async () => {
  await withFake({}, { password: null }, async (client) => {
    await rejectsWith(client.exec('saveworld'), 'config');
  });
});

test('a command with no output at all times out; the next one logs in again and works', async () => {
  await withFake({ handler: (c) => (c === 'hang' ? null : [`ok ${c}`]) }, { requestTimeoutMs: 200 }, async (client, fake) => {
    await rejectsWith(client.exec('hang'), 'timeout');
    assert.equal(await client.exec('lp'), 'ok lp');
    assert.equal(fake.connections, 2, 'a silent line may be dead: it is replaced');
  });
});

test('shutdown closes the line: fine with allowDisconnect; the next call reconnects', async () => {
  await withFake({ exitCommands: ['shutdown'] }, {}, async (client, fake) => {
    assert.equal(await client.exec('shutdown', { allowDisconnect: true }), '');
    assert.equal(await client.exec('version'), 'ok version');
    assert.equal(fake.connections, 2);
  });
});

test('a multi-line command is refused (it would run a second command)', async () => {
  const client = new TelnetClient({ host: '127.0.0.1', port: 1, password: null });
  await rejectsWith(client.exec('say hi\nshutdown'), 'config');
});

test('nothing listening: connect error', async () => {
  const fake = new TelnetFake({ password: null });
  const port = await fake.start();
  await fake.close();
  const client = new TelnetClient({ host: '127.0.0.1', port, password: null });
  await rejectsWith(client.exec('lp'), 'connect');
});
