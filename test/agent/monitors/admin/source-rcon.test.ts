import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { SourceRconClient, type SourceRconOptions } from '../../../../agent/monitors/admin/source-rcon.ts';
import { AdminChannelError } from '../../../../agent/monitors/admin/common.ts';
import { ReconSyncError } from '../../../../protocol/errors.ts';
import { RconFake, type RconFakeOptions } from '../fakes/rcon-server.ts';

const PASSWORD = 'hunter2';

async function withFake(
  fakeOpts: Partial<RconFakeOptions> & Pick<RconFakeOptions, 'dialect'>,
  clientOpts: Partial<SourceRconOptions>,
  body: (client: SourceRconClient, fake: RconFake) => Promise<void>,
): Promise<void> {
  const fake = new RconFake({ password: PASSWORD, ...fakeOpts });
  const port = await fake.start();
  const client = new SourceRconClient({
    host: '127.0.0.1', port, password: PASSWORD, dialect: fakeOpts.dialect,
    connectTimeoutMs: 2000, authTimeoutMs: 2000, requestTimeoutMs: 2000, quietMs: 100,
    ...clientOpts,
  });
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
  assert.equal(err.code, 'ADMIN_CHANNEL');
  assert.equal(err.reason, reason, err.message);
  return err;
}

test('srcds: logs in past the empty RESPONSE_VALUE and runs a command', async () => {
  await withFake({ dialect: 'srcds' }, {}, async (client, fake) => {
    assert.equal(await client.exec('status'), 'ok status');
    assert.equal(await client.exec('players'), 'ok players');
    assert.deepEqual(fake.commands, ['status', 'players']);
    assert.equal(fake.connections, 1, 'the connection is reused');
  });
});

test('srcds: long output in several packets ends at the terminator echo, not after a quiet wait', async () => {
  const long = Array.from({ length: 2500 }, (_, i) => `line ${i}`).join('\n');
  await withFake({ dialect: 'srcds', handler: () => long, srcdsPartBytes: 4000 }, { quietMs: 5000 }, async (client) => {
    const started = Date.now();
    const out = await client.exec('cvarlist');
    assert.equal(out, long);
    assert.ok(long.length > 12_000);
    assert.ok(Date.now() - started < 2500, 'finished by the echo, well before quietMs');
  });
});

test('srcds: a server without the echo still answers, after quietMs', async () => {
  await withFake({ dialect: 'srcds', noEcho: true }, { quietMs: 50 }, async (client) => {
    assert.equal(await client.exec('save'), 'ok save');
    assert.equal(await client.exec('players'), 'ok players');
  });
});

test('minecraft: single auth reply; output split at 4096 chars is joined; no terminator packet is sent', async () => {
  const fiveK = 'a'.repeat(4096) + 'b'.repeat(904);
  const exact = 'c'.repeat(8192);
  await withFake({ dialect: 'minecraft', handler: (c) => (c === 'five' ? fiveK : c === 'exact' ? exact : `There are 0 of a max of 20 players online: `) }, {}, async (client) => {
    assert.equal(await client.exec('list'), 'There are 0 of a max of 20 players online: ');
    assert.equal(await client.exec('five'), fiveK);
    // A multiple of 4096 has no short last part: the reply ends after quietMs.
    assert.equal(await client.exec('exact'), exact);
    assert.equal(await client.exec('list'), 'There are 0 of a max of 20 players online: ', 'no stray "Unknown request" left over');
  });
});

test('ark: "Server received, But no response!!" is empty output', async () => {
  await withFake({ dialect: 'ark', handler: (c) => (c === 'saveworld' ? '' : 'World Saved') }, {}, async (client) => {
    assert.equal(await client.exec('saveworld'), '');
    assert.equal(await client.exec('other'), 'World Saved');
  });
});

test('ark: concurrent calls go one at a time (the fake stalls for good on back-to-back packets)', async () => {
  await withFake({ dialect: 'ark', arkReplyDelayMs: 30 }, {}, async (client, fake) => {
    assert.equal(await client.exec('warm-up'), 'ok warm-up');
    const outs = await Promise.all(['a', 'b', 'c', 'd'].map((c) => client.exec(c)));
    assert.deepEqual(outs, ['ok a', 'ok b', 'ok c', 'ok d']);
    assert.deepEqual(fake.commands, ['warm-up', 'a', 'b', 'c', 'd']);
    assert.equal(fake.connections, 1);
  });
});

test('wrong password: auth error, not retryable (srcds answers id -1)', async () => {
  await withFake({ dialect: 'srcds' }, { password: 'wrong' }, async (client) => {
    const err = await rejectsWith(client.exec('status'), 'auth');
    assert.equal(err.retryable, false);
    assert.match(err.message, /rcon\.password/);
  });
});

test('wrong password: a server that just closes the socket is an auth error too', async () => {
  await withFake({ dialect: 'ark', closeOnWrongPassword: true }, { password: 'wrong' }, async (client) => {
    await rejectsWith(client.exec('listplayers'), 'auth');
  });
});

test('minecraft wrong password (single AUTH_RESPONSE id -1)', async () => {
  await withFake({ dialect: 'minecraft' }, { password: 'nope' }, async (client) => {
    await rejectsWith(client.exec('list'), 'auth');
  });
});

test('no password configured: config error before connecting', async () => {
  await withFake({ dialect: 'srcds' }, { password: null }, async (client, fake) => {
    const err = await rejectsWith(client.exec('status'), 'config');
    assert.equal(err.retryable, false);
    assert.equal(fake.connections, 0);
  });
});

test('a stalled command times out, and the next call reconnects and works', async () => {
  await withFake({ dialect: 'ark', handler: (c) => (c === 'hang' ? null : `ok ${c}`) }, { requestTimeoutMs: 150 }, async (client, fake) => {
    const started = Date.now();
    await rejectsWith(client.exec('hang'), 'timeout');
    assert.ok(Date.now() - started < 1500);
    assert.equal(await client.exec('listplayers'), 'ok listplayers');
    assert.equal(fake.connections, 2, 'a fresh connection after the timeout');
  });
});

test('a server that stalls during login gives an auth timeout', async () => {
  // Accepts and reads, never answers.
  const server = net.createServer((s) => s.on('error', () => undefined).resume());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = new SourceRconClient({ host: '127.0.0.1', port, password: PASSWORD, dialect: 'srcds', authTimeoutMs: 100 });
  try {
    await rejectsWith(client.exec('status'), 'auth');
  } finally {
    await client.close();
    await new Promise((r) => server.close(r));
  }
});

test('after the game drops the connection, the client reconnects on next use', async () => {
  await withFake({ dialect: 'srcds' }, {}, async (client, fake) => {
    assert.equal(await client.exec('one'), 'ok one');
    fake.dropAll();
    // The drop may or may not have reached the client yet: at most one call fails, with "closed".
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

test('hostile replies: negative size, huge size and garbage are protocol errors, and the client recovers', async () => {
  const negative = Buffer.from('ffffffff0000000000000000', 'hex');
  const huge = Buffer.alloc(4);
  huge.writeInt32LE(0x7fffffff);
  const garbage = Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n');
  const raw = (c: string) => (c === 'neg' ? negative : c === 'huge' ? huge : c === 'garbage' ? garbage : null);
  await withFake({ dialect: 'srcds', raw }, {}, async (client) => {
    for (const c of ['neg', 'huge', 'garbage']) {
      const err = await rejectsWith(client.exec(c), 'protocol');
      assert.match(err.message, /malformed packet/);
      assert.equal(await client.exec('fine'), 'ok fine');
    }
  });
});

test('connection refused is a connect error', async () => {
  const fake = new RconFake({ password: PASSWORD, dialect: 'srcds' });
  const port = await fake.start();
  await fake.close();
  const client = new SourceRconClient({ host: '127.0.0.1', port, password: PASSWORD, dialect: 'srcds' });
  await rejectsWith(client.exec('status'), 'connect');
  await client.close();
});

test('allowDisconnect: a game that exits on the command counts as done', async () => {
  await withFake({ dialect: 'srcds', exitCommands: ['quit'] }, {}, async (client, fake) => {
    await rejectsWith(client.exec('quit'), 'closed');
    assert.equal(await client.exec('quit', { allowDisconnect: true }), '');
    assert.deepEqual(fake.commands, ['quit', 'quit']);
  });
});

test('the caller can cancel a command', async () => {
  await withFake({ dialect: 'srcds', handler: () => null }, { requestTimeoutMs: 5000 }, async (client) => {
    const ac = new AbortController();
    const p = client.exec('hang', { signal: ac.signal });
    ac.abort();
    const err = await p.then(() => assert.fail('should reject'), (e: unknown) => e);
    assert.ok(err instanceof ReconSyncError);
    assert.equal(err.code, 'CANCELLED');
  });
});

test('a command over the packet limit is refused up front', async () => {
  const client = new SourceRconClient({ host: '127.0.0.1', port: 1, password: PASSWORD, dialect: 'srcds' });
  await assert.rejects(client.exec('x'.repeat(5000)), (e: unknown) => e instanceof ReconSyncError && e.code === 'INVALID_PARAMS');
});
