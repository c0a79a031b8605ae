import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SimEvents, startSimServer, type SaveEvent, type SimExit } from '../../sim/game-server.ts';
import { waitFor } from '../support/wait.ts';
import { A2S_INFO, a2sWithChallenge, exitWithin, RawRcon, Reader, spawnSim, tempDir, UdpClient } from './helpers.ts';

async function generationOf(file: string): Promise<number> {
  return Number((await readFile(file)).readBigUInt64BE(4));
}

const exists = (f: string) => stat(f).then(() => true, () => false);

describe('fault knobs', () => {
  it('hang (control channel): queries and RCON go silent, SIGTERM is ignored; resume answers the backlog', async (t) => {
    const sim = await spawnSim(['--game', 'ark', '--rcon-password', 'pw', '--players', 'Rex'], t);
    const udp = new UdpClient(sim.ready.ports.query!);
    t.after(() => udp.close());
    const challenge = (await udp.ask(A2S_INFO)).payload.readUInt32LE(1);
    /** Players byte of A2S_INFO: after 0x49, protocol, four strings and the short app id. */
    const playersOnline = async () => {
      const r = new Reader((await udp.ask(a2sWithChallenge(0x54, challenge))).payload);
      assert.equal(r.byte(), 0x49);
      r.byte(); r.string(); r.string(); r.string(); r.string(); r.int16();
      return r.byte();
    };
    assert.equal(await playersOnline(), 1);

    const c = await RawRcon.connect(sim.ready.ports.rcon!);
    t.after(() => c.close());
    c.send(1, 3, 'pw');
    await c.next();
    await c.next();

    await sim.control('/hang', {});
    await assert.rejects(udp.ask(a2sWithChallenge(0x54, challenge), 300), /no UDP reply/);
    c.send(2, 2, 'echo still there?');
    await assert.rejects(c.next(300), /no RCON packet/);
    sim.child.kill('SIGTERM');
    const state = await sim.control('/state') as { hung: boolean; exited: SimExit | null };
    assert.deepEqual([state.hung, state.exited], [true, null], 'alive and hung after SIGTERM');
    await waitFor(async () => sim.stderr().includes('SIGTERM ignored'), 3000, 'the ignore notice');

    await sim.control('/players', { players: ['Rex', 'Trike', 'Ptera'], max: 40 });
    await sim.control('/resume', {});
    assert.equal((await c.next()).body.toString(), 'still there?', 'the backlog is answered on resume');
    assert.equal(await playersOnline(), 3, 'players set through the control channel');

    await sim.control('/crash', { code: 3 });
    assert.deepEqual(await exitWithin(sim.exited, 5000), { code: 3, signal: null });
  });

  it('crash by signal ends the CLI sim with that signal, without saving', async (t) => {
    const dir = await tempDir(t);
    const sim = await spawnSim(['--game', 'valheim', '--save-dir', dir, '--world', 'Midgard', '--quiet'], t);
    await sim.control('/crash', { signal: 'SIGKILL' });
    assert.deepEqual(await exitWithin(sim.exited, 5000), { code: null, signal: 'SIGKILL' });
    assert.equal(await generationOf(path.join(dir, 'Midgard.db')), 1);
  });

  it('slow save (in-process): the reply comes first, files grow via .tmp, then settle; a crash mid-save leaves the .tmp', async (t) => {
    const dir = await tempDir(t);
    const sim = await startSimServer({ game: 'ark', saveDir: dir, rconPassword: 'pw', saveDurationMs: 400, ports: { control: null } });
    t.after(() => sim.close());
    const ark = path.join(dir, 'TheIsland.ark');
    const c = await RawRcon.connect(sim.ports.rcon!);
    t.after(() => c.close());
    c.send(1, 3, 'pw');
    await c.next();
    await c.next();

    const saved = once(sim, SimEvents.Save) as Promise<[SaveEvent]>;
    c.send(2, 2, 'saveworld');
    assert.equal((await c.next()).body.toString(), 'World Saved');
    assert.equal(sim.saveCount, 0, 'answered before the save finished');
    await waitFor(() => exists(`${ark}.tmp`), 2000, 'the temp file');
    const [ev] = await saved;
    assert.ok(ev.durationMs >= 300, `save took ${ev.durationMs} ms`);
    assert.equal(await generationOf(ark), 2);
    assert.equal(await exists(`${ark}.tmp`), false);

    const crashed = once(sim, SimEvents.Exit) as Promise<[SimExit]>;
    void sim.save('test').catch(() => undefined);
    await waitFor(() => exists(`${ark}.tmp`), 2000, 'the temp file');
    sim.crash(1);
    assert.deepEqual((await crashed)[0], { code: 1, signal: null, reason: 'crash', saved: false });
    assert.equal(await exists(`${ark}.tmp`), true, 'a half-written save stays behind');
    assert.equal(await generationOf(ark), 2);

    // A restarted server loads the world it finds and counts on from there.
    const again = await startSimServer({ game: 'ark', saveDir: dir, ports: { control: null } });
    t.after(() => again.close());
    assert.equal(again.generation, 2);
    assert.equal((await again.save()).generation, 3);
  });

  it('autosave runs on its own and stops after save-off (minecraft, in-process)', async (t) => {
    const dir = await tempDir(t);
    const sim = await startSimServer({ game: 'minecraft', saveDir: dir, autosaveMs: 30, ports: { control: null } });
    t.after(() => sim.close());
    const [ev] = await (once(sim, SimEvents.Save, { signal: AbortSignal.timeout(3000) }) as Promise<[SaveEvent]>);
    assert.equal(ev.trigger, 'autosave');
    assert.ok(ev.files.includes('level.dat') && ev.files.includes('region/r.0.0.mca'));
    assert.equal(await sim.exec('save-off', 'rcon', 'test'), 'Automatic saving is now disabled');
    await sim.save('drain');
    const count = sim.saveCount;
    // Ten autosave periods without a save: the timer is really off. A second sim with the same period,
    // started later on the same event loop, witnesses that the periods passed (no fixed sleep).
    const witness = await startSimServer({ game: 'minecraft', saveDir: await tempDir(t), autosaveMs: 30, ports: { control: null } });
    t.after(() => witness.close());
    await waitFor(() => witness.saveCount >= 10, { wakeOn: { emitter: witness, events: [SimEvents.Save] }, timeoutMs: 5000, what: 'ten autosaves of the witness' });
    assert.equal(sim.saveCount, count);
    assert.ok((await sim.worldFiles()).includes('level.dat_old'));
    // Closed here: t.after hooks run in the order they were added, so the save dirs' removal would race the witness's autosaves.
    await witness.close();
    await sim.close();
  });
});

describe('world safety', () => {
  it('refuses to start on a save dir holding a world it did not write', async (t) => {
    const dir = await tempDir(t);
    await writeFile(path.join(dir, 'Dedicated.db'), 'a real Valheim world');
    await assert.rejects(startSimServer({ game: 'valheim', saveDir: dir, ports: { control: null } }), /not written by the sim; refusing/);
    assert.equal(await readFile(path.join(dir, 'Dedicated.db'), 'utf8'), 'a real Valheim world');
  });
});
