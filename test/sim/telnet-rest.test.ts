import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { A2S_INFO, exitWithin, LineClient, spawnSim, tempDir, UdpClient } from './helpers.ts';

describe('7 Days to Die telnet (child process)', () => {
  it('prompts, refuses a wrong password, runs lp / saveworld / say, and shutdown exits 0', async (t) => {
    const sim = await spawnSim(['--game', '7dtd', '--rcon-password', 'tpw', '--players', 'Nomad,Scavenger', '--quiet'], t);
    assert.equal(sim.ready.ports.query, sim.ready.ports.game, '7DTD answers A2S on the game port');
    const udp = new UdpClient(sim.ready.ports.game);
    t.after(() => udp.close());
    assert.equal((await udp.ask(A2S_INFO)).payload[0], 0x41);

    const quitter = await LineClient.connect(sim.ready.ports.rcon!);
    await quitter.until(/Please enter password:\r\n/);
    for (let i = 0; i < 3; i++) quitter.line('guess');
    await quitter.until(/closing connection/);
    await quitter.closed();

    const c = await LineClient.connect(sim.ready.ports.rcon!);
    t.after(() => c.socket.destroy());
    await c.until(/Please enter password:\r\n/);
    c.line('nope');
    await c.until(/Password incorrect, please enter password:\r\n/);
    c.line('tpw');
    await c.until(/Press 'help' to get a list of all commands\. Press 'exit' to end session\.\r\n/);

    c.line('lp');
    const lp = await c.until(/Total of 2 in the game\r\n/);
    // The line shape gamedig's sdtd protocol parses names from.
    const names = [...lp.matchAll(/(?<=id=\d+,\s*)(\S[^,]*)(?=,)/g)].map((m) => m[1]);
    assert.deepEqual(names, ['Nomad', 'Scavenger']);

    c.line('saveworld');
    const saved = await c.until(/World saved\r\n/);
    assert.match(saved, /INF Executing command 'saveworld' by Telnet from 127\.0\.0\.1:\d+\r\n/);
    c.line('say "Horde night"');
    await c.until(/'Server': Horde night\r\n/);
    c.line('frobnicate');
    await c.until(/\*\*\* ERROR: Unknown command 'frobnicate'\r\n/);

    c.line('shutdown');
    await c.until(/Shutting server down\.\.\.\r\n/);
    await c.closed();
    assert.deepEqual(await exitWithin(sim.exited, 5000), { code: 0, signal: null });
  });
});

describe('Palworld REST (child process)', () => {
  it('needs Basic admin:<password>, serves info/players/metrics, save writes the world, shutdown exits', async (t) => {
    const dir = await tempDir(t);
    const saveDir = path.join(dir, 'SaveGames', '0', 'WORLDGUID');
    const sim = await spawnSim(['--game', 'palworld', '--rcon-password', 'palpw', '--save-dir', saveDir, '--world', 'WORLDGUID',
      '--players', 'Anubis,Lamball', '--max-players', '16', '--quiet'], t);
    assert.equal(sim.ready.ports.query, null, 'Palworld answers no A2S');
    const base = `http://127.0.0.1:${sim.ready.ports.rcon}/v1/api`;
    const auth = { authorization: `Basic ${Buffer.from('admin:palpw').toString('base64')}` };
    const call = (p: string, init: RequestInit = {}) => fetch(`${base}/${p}`, { ...init, signal: AbortSignal.timeout(5000) });

    assert.equal((await call('info')).status, 401);
    assert.equal((await call('info', { headers: { authorization: `Basic ${Buffer.from('admin:bad').toString('base64')}` } })).status, 401);

    const info = await (await call('info', { headers: auth })).json() as { version: string; servername: string; worldguid: string };
    assert.equal(info.worldguid, 'WORLDGUID');
    assert.match(info.servername, /Palworld/);
    const players = await (await call('players', { headers: auth })).json() as { players: Array<{ name: string; userId: string }> };
    assert.deepEqual(players.players.map((p) => p.name), ['Anubis', 'Lamball']);
    const metrics = await (await call('metrics', { headers: auth })).json() as { currentplayernum: number; maxplayernum: number };
    assert.deepEqual([metrics.currentplayernum, metrics.maxplayernum], [2, 16]);
    assert.equal((await call('settings', { headers: auth })).status, 200);
    assert.equal((await call('nope', { headers: auth })).status, 404);
    assert.equal((await call('save', { headers: auth })).status, 405, 'save is a POST');

    const post = (p: string, body?: unknown) => call(p, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    assert.equal((await post('announce', {})).status, 400);
    const ann = await post('announce', { message: 'Boss raid in 5' });
    assert.equal(ann.status, 200);
    assert.equal(await ann.text(), '', 'POSTs answer with an empty body');

    assert.equal((await post('save')).status, 200);
    const level = await readFile(path.join(saveDir, 'Level.sav'));
    assert.equal(level.toString('latin1', 0, 4), 'GVAS');
    assert.equal(Number(level.readBigUInt64BE(4)), 2);
    assert.equal((await readdir(path.join(saveDir, 'Players'))).filter((f) => f.endsWith('.sav')).length, 2);
    assert.equal((await readdir(path.join(saveDir, 'backup', 'world'))).length, 1, "the game's own backup of the previous Level.sav");

    const log = await sim.control('/commands') as Array<{ channel: string; command: string; action: string; args: string }>;
    assert.deepEqual(log.filter((e) => e.channel === 'rest' && e.command.startsWith('POST')).map((e) => e.action), ['broadcast', 'broadcast', 'save']);
    assert.equal(log.find((e) => e.action === 'broadcast' && e.args.includes('Boss raid'))?.command, 'POST /v1/api/announce');

    assert.equal((await post('shutdown', { waittime: 0, message: 'bye' })).status, 200);
    assert.deepEqual(await exitWithin(sim.exited, 5000), { code: 0, signal: null });
    assert.equal(Number((await readFile(path.join(saveDir, 'Level.sav'))).readBigUInt64BE(4)), 3, 'saved before exiting');
  });
});
