import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createAdminChannel, sanitizeMessage } from '../../../../agent/monitors/admin/index.ts';
import { ReconSyncError } from '../../../../protocol/errors.ts';
import type { AdminChannel } from '../../../../agent/types.ts';
import { RconFake } from '../fakes/rcon-server.ts';
import { WebRconFake } from '../fakes/webrcon-server.ts';
import { TelnetFake } from '../fakes/telnet-server.ts';
import { PalworldFake, SatisfactoryFake, makeSelfSignedCert } from '../fakes/http-games.ts';
import { resolvedFor } from '../fakes/servers.ts';

function channelFor(game: string, port: number, password: string | undefined): AdminChannel {
  const ch = createAdminChannel(resolvedFor(game, { rconPort: port, ...(password !== undefined ? { password } : {}) }), { timeouts: { requestTimeoutMs: 2000, quietMs: 80 } });
  assert.ok(ch, `${game} has an admin channel`);
  return ch;
}

test('games without an admin channel get null', () => {
  assert.equal(createAdminChannel(resolvedFor('valheim', {})), null);
  assert.equal(createAdminChannel(resolvedFor('enshrouded', {})), null);
});

test('sanitizeMessage keeps operator text inside one command', () => {
  assert.equal(sanitizeMessage('Restart in 5 min; "now"\r\nquit'), "Restart in 5 min, 'now' quit");
});

test('Project Zomboid (srcds RCON): save, broadcast, stop = save then quit, the exit counts as done', async () => {
  const fake = new RconFake({ password: 'pz', dialect: 'srcds', exitCommands: ['quit'] });
  const ch = channelFor('pzomboid', await fake.start(), 'pz');
  try {
    assert.equal(ch.kind, 'source-rcon');
    await ch.save();
    await ch.broadcast('Restart in 5 min; "now"');
    await ch.stop();
    assert.deepEqual(fake.commands, ['save', `servermsg "Restart in 5 min, 'now'"`, 'save', 'quit']);
  } finally {
    await ch.close();
    await fake.close();
  }
});

test('ARK (ark RCON): saveworld, broadcast, doexit; exec output comes back trimmed', async () => {
  const fake = new RconFake({ password: 'ark', dialect: 'ark', handler: (c) => (c === 'saveworld' ? '' : c === 'listplayers' ? 'No Players Connected \n ' : 'Exiting...') });
  const ch = channelFor('ark', await fake.start(), 'ark');
  try {
    assert.equal(await ch.exec('listplayers'), 'No Players Connected');
    await ch.broadcast('hi');
    await ch.stop();
    assert.deepEqual(fake.commands, ['listplayers', 'broadcast hi', 'saveworld', 'doexit']);
  } finally {
    await ch.close();
    await fake.close();
  }
});

test('Minecraft (minecraft RCON): say, save-all flush, stop', async () => {
  const fake = new RconFake({ password: 'mc', dialect: 'minecraft' });
  const ch = channelFor('minecraft', await fake.start(), 'mc');
  try {
    await ch.broadcast('Backup soon');
    await ch.stop();
    assert.deepEqual(fake.commands, ['say Backup soon', 'save-all flush', 'stop']);
  } finally {
    await ch.close();
    await fake.close();
  }
});

test('Rust (WebRCON): server.save, say, quit', async () => {
  const fake = new WebRconFake({ password: 'rusty', exitCommands: ['quit'] });
  const ch = channelFor('rust', await fake.start(), 'rusty');
  try {
    await ch.broadcast('wipe tomorrow');
    await ch.stop();
    assert.deepEqual(fake.commands, ['say "wipe tomorrow"', 'server.save', 'quit']);
  } finally {
    await ch.close();
    await fake.close();
  }
});

test('7 Days to Die (telnet): say, saveworld, shutdown', async () => {
  const fake = new TelnetFake({ password: 'sdtd', exitCommands: ['shutdown'] });
  const ch = channelFor('7dtd', await fake.start(), 'sdtd');
  try {
    await ch.broadcast('horde night');
    await ch.stop();
    assert.deepEqual(fake.commands, ['say "horde night"', 'saveworld', 'shutdown']);
  } finally {
    await ch.close();
    await fake.close();
  }
});

test('Palworld (REST): announce, save, shutdown', async () => {
  const fake = new PalworldFake({ password: 'pal' });
  const ch = channelFor('palworld', await fake.start(), 'pal');
  try {
    await ch.broadcast('maintenance');
    await ch.stop();
    assert.deepEqual(fake.calls.map((c) => `${c.method} ${c.path}`), ['POST announce', 'POST save', 'POST shutdown']);
    assert.deepEqual(fake.calls[0]!.body, { message: 'maintenance' });
  } finally {
    await ch.close();
    await fake.close();
  }
});

let tls: { key: string; cert: string };
before(async () => {
  tls = await makeSelfSignedCert();
});

test('Satisfactory (HTTPS API): SaveGame and Shutdown; no broadcast command is NOT_SUPPORTED', async () => {
  const fake = new SatisfactoryFake({ adminToken: 'tok' });
  const ch = channelFor('satisfactory', await fake.start(tls), 'tok');
  try {
    await assert.rejects(ch.broadcast('hi'), (e: unknown) => e instanceof ReconSyncError && e.code === 'NOT_SUPPORTED');
    await ch.stop();
    assert.deepEqual(fake.calls.map((c) => c.body), [{ function: 'SaveGame', data: { SaveName: 'reconsync' } }, { function: 'Shutdown' }]);
  } finally {
    await ch.close();
    await fake.close();
  }
});

test('a failed save stops the stop: the stop command is not sent', async () => {
  const fake = new RconFake({ password: 'ark', dialect: 'ark', handler: (c) => (c === 'saveworld' ? null : 'ok') });
  const ch = createAdminChannel(resolvedFor('ark', { rconPort: await fake.start(), password: 'ark' }), { timeouts: { requestTimeoutMs: 150 } })!;
  try {
    await assert.rejects(ch.stop(), (e: unknown) => e instanceof ReconSyncError && e.code === 'ADMIN_CHANNEL');
    assert.deepEqual(fake.commands, ['saveworld']);
  } finally {
    await ch.close();
    await fake.close();
  }
});
