import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startSimServer } from '../../sim/game-server.ts';
import { exitWithin, packet, RawRcon, spawnSim, tempDir } from './helpers.ts';

const AUTH = 3;
const EXEC = 2;
const VALUE = 0;

/** Generation stamped after the magic in every binary world file. */
async function generationOf(file: string, magic: string): Promise<number> {
  const buf = await readFile(file);
  assert.equal(buf.toString('latin1', 0, magic.length), magic);
  return Number(buf.readBigUInt64BE(magic.length));
}

describe('Source RCON (child process, raw TCP)', () => {
  it('ark: auth, ARK quirks, saveworld rewrites files by rename and is logged, doexit saves and exits 0', async (t) => {
    const dir = await tempDir(t);
    const saveDir = path.join(dir, 'SavedArks');
    const log = path.join(dir, 'commands.jsonl');
    const sim = await spawnSim(['--game', 'ark', '--rcon-password', 'hunter2', '--save-dir', saveDir, '--command-log', log,
      '--players', 'Rex,Trike', '--quiet'], t);
    const ark = path.join(saveDir, 'TheIsland.ark');
    assert.equal(await generationOf(ark, 'ARKS'), 1, 'a fresh world is written at start');
    const before = await stat(ark);

    const c = await RawRcon.connect(sim.ready.ports.rcon!);
    t.after(() => c.close());
    c.send(4, AUTH, 'wrong');
    assert.deepEqual(await c.next().then((p) => [p.id, p.type, p.body.length]), [4, VALUE, 0], 'SRCDS sends an empty value first');
    assert.deepEqual(await c.next().then((p) => [p.id, p.type]), [-1, 2], 'bad password: id -1');
    c.send(5, AUTH, 'hunter2');
    await c.next();
    assert.deepEqual(await c.next().then((p) => [p.id, p.type]), [5, 2]);

    const ask = async (id: number, cmd: string) => {
      c.send(id, EXEC, cmd);
      const p = await c.next();
      assert.equal(p.id, id);
      return p.body.toString('utf8');
    };
    assert.equal(await ask(6, 'echo hello world'), 'hello world');
    assert.equal(await ask(7, 'broadcast Dinner time'), 'Server received, But no response!!');
    assert.match(await ask(10, 'listplayers'), /^0\. Rex, \d+\n1\. Trike, \d+$/);
    assert.match(await ask(11, 'save'), /^Unknown command/);

    assert.equal(await ask(12, 'saveworld'), 'World Saved');
    assert.equal(await generationOf(ark, 'ARKS'), 2);
    const after = await stat(ark);
    assert.notEqual(after.ino, before.ino, 'replaced by rename, not rewritten in place');
    await assert.rejects(stat(`${ark}.tmp`), /ENOENT/, 'no temp file left');
    await stat(path.join(saveDir, 'TheIsland_AntiCorruptionBackup.bak'));
    await stat(path.join(saveDir, '1234567890.tribebak'));

    const entries = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { seq: number; action: string; command: string; channel: string });
    const save = entries.find((e) => e.command === 'saveworld');
    assert.equal(save?.action, 'save');
    assert.equal(save?.channel, 'rcon');
    assert.ok(entries.findIndex((e) => e.command === 'broadcast Dinner time') < entries.indexOf(save!), 'log keeps arrival order');

    // ARK stalls on back-to-back packets: the second one in the same write is never answered.
    c.socket.write(Buffer.concat([packet(20, EXEC, 'echo first'), packet(21, EXEC, 'echo second')]));
    assert.equal((await c.next()).body.toString(), 'first');
    await assert.rejects(c.next(300), /no RCON packet/);

    assert.equal(await ask(22, 'doexit'), 'Exiting...');
    assert.deepEqual(await exitWithin(sim.exited, 5000), { code: 0, signal: null });
    assert.equal(await generationOf(ark, 'ARKS'), 3, 'saved on the way out');
  });

  it('pzomboid (srcds): long output in several packets, ended by the mirrored empty packet (+ trailer knob)', async (t) => {
    const names = Array.from({ length: 400 }, (_, i) => `Player_number_${i}`);
    const sim = await spawnSim(['--game', 'pzomboid', '--rcon-password', 'pw', '--players', names.join(','), '--mirror-trailer', '--quiet'], t);
    const c = await RawRcon.connect(sim.ready.ports.rcon!);
    t.after(() => c.close());
    c.send(1, AUTH, 'pw');
    await c.next();
    assert.equal((await c.next()).id, 1);

    c.socket.write(Buffer.concat([packet(10, EXEC, 'players'), packet(11, VALUE, '')]));
    const bodies: Buffer[] = [];
    for (;;) {
      const p = await c.next();
      if (p.id === 11) {
        assert.equal(p.body.length, 0, 'the mirror is empty');
        break;
      }
      assert.equal(p.id, 10);
      assert.ok(p.body.length <= 4096);
      bodies.push(p.body);
    }
    assert.ok(bodies.length >= 2, `expected a multi-packet reply, got ${bodies.length}`);
    const text = Buffer.concat(bodies).toString('utf8');
    assert.ok(text.startsWith('Players connected (400): \n-Player_number_0\n'));
    assert.ok(text.endsWith('-Player_number_399\n'));
    const trailer = await c.next();
    assert.equal(trailer.id, 11);
    assert.deepEqual([...trailer.body], [0x00, 0x01, 0x00, 0x00]);

    // Unauthenticated commands close the connection (SRCDS style).
    const stranger = await RawRcon.connect(sim.ready.ports.rcon!);
    t.after(() => stranger.close());
    stranger.send(1, EXEC, 'quit');
    await assert.rejects(stranger.next(), /closed/);
    const state = await sim.control('/state') as { commands: number };
    assert.equal(state.commands, 1, 'only the authenticated command was logged');
  });

  it('minecraft dialect (in-process): one auth packet, "Unknown request" echoes the terminator id', async (t) => {
    const sim = await startSimServer({ game: 'minecraft', rconPassword: 'mc', players: ['Steve', 'Alex'], ports: { control: null } });
    t.after(() => sim.close());
    const c = await RawRcon.connect(sim.ports.rcon!);
    t.after(() => c.close());
    c.send(3, AUTH, 'nope');
    assert.deepEqual(await c.next().then((p) => [p.id, p.type]), [-1, 2], 'no empty value packet before it');
    c.send(4, AUTH, 'mc');
    assert.deepEqual(await c.next().then((p) => [p.id, p.type]), [4, 2]);
    c.socket.write(Buffer.concat([packet(5, EXEC, 'list'), packet(6, VALUE, '')]));
    assert.equal((await c.next()).body.toString(), 'There are 2 of a max of 20 players online: Steve, Alex');
    const end = await c.next();
    assert.equal(end.id, 6);
    assert.equal(end.body.toString(), 'Unknown request 0');
    c.send(7, EXEC, 'save-all flush');
    assert.equal((await c.next()).body.toString(), 'Saving the game (this may take a moment!)Saved the game');
    assert.equal(sim.saveCount, 1);
    assert.deepEqual(sim.commands.map((e) => e.action), ['players', 'save']);

    // Server List Ping on the game port: handshake, status request, ping.
    assert.equal(sim.ports.query, sim.ports.game);
    const slp = net.connect(sim.ports.game, '127.0.0.1');
    t.after(() => slp.destroy());
    await once(slp, 'connect');
    const varint = (n: number) => { const out: number[] = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return Buffer.from(out); };
    const frame = (id: number, body: Buffer) => { const inner = Buffer.concat([varint(id), body]); return Buffer.concat([varint(inner.length), inner]); };
    const port = Buffer.alloc(2);
    port.writeUInt16BE(sim.ports.game);
    const host = Buffer.from('127.0.0.1');
    const ping = Buffer.from('0102030405060708', 'hex');
    slp.write(Buffer.concat([frame(0, Buffer.concat([varint(769), varint(host.length), host, port, varint(1)])), frame(0, Buffer.alloc(0)), frame(1, ping)]));
    let got = Buffer.alloc(0);
    slp.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    await once(slp, 'end');
    // Status: [len][0x00][len][json]; pong: [9][0x01][8 bytes].
    let off = 0;
    const readVar = () => { let v = 0; let i = 0; for (;;) { const b = got[off++]!; v |= (b & 0x7f) << (7 * i++); if (!(b & 0x80)) return v; } };
    const len = readVar();
    const start = off;
    assert.equal(readVar(), 0);
    const strLen = readVar();
    const status = JSON.parse(got.toString('utf8', off, off + strLen)) as { players: { online: number; max: number; sample: Array<{ name: string }> }; version: { name: string } };
    assert.deepEqual([status.players.online, status.players.max, status.players.sample.map((p) => p.name)], [2, 20, ['Steve', 'Alex']]);
    off = start + len;
    assert.equal(readVar(), 9);
    assert.equal(readVar(), 1);
    assert.deepEqual(got.subarray(off, off + 8), ping);
  });
});
