import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { AgentLink } from '../../../agent/link/link.ts';
import { repairForSchema } from '../../../agent/link/repair.ts';
import { ReconSyncError, ServerStatusSchema, type ServerStatus } from '../../../protocol/index.ts';
import { FakeHub, type FakeConn } from './fake-hub.ts';
import { memoryLogger } from './log-sink.ts';

const TOKEN = 'agent-token-0123456789abcdef';

const status = (over: Record<string, unknown> = {}): ServerStatus => ({
  id: 'valheim-main', game: 'valheim', name: 'Valheim Main', managed: true, state: 'running',
  players: { online: 1, max: 10, names: ['Odin'] }, map: 'Midgard', version: '0.218',
  resources: { cpuPercent: 3, rssBytes: 1000, diskFreeBytes: 5000, uptimeSec: 60 },
  lastBackup: { id: 'b1', createdAt: new Date(0).toISOString(), size: 10, verified: true },
  message: 'ok', updatedAt: new Date(0).toISOString(), ...over,
} as ServerStatus);

async function connectedLink(t: TestContext) {
  const hub = await FakeHub.start({ token: TOKEN });
  t.after(() => hub.close());
  const dir = await mkdtemp(join(tmpdir(), 'rs-repair-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = memoryLogger();
  const link = new AgentLink({
    url: hub.url, token: TOKEN, agentId: 'box-1', agentVersion: '0.1.0-test', dataDir: dir, logger: log.logger,
    servers: () => [{ id: 'valheim-main', game: 'valheim', name: 'Valheim Main', managed: true }],
    handlers: { 'agent.ping': async () => ({ now: 42 }) }, backoff: { baseMs: 5, capMs: 20 }, random: () => 0.5,
  });
  t.after(() => link.close());
  const signal = AbortSignal.timeout(10_000);
  const connected = once(link, 'connected', { signal });
  await link.start();
  const conn: FakeConn = await hub.nextConnection(signal);
  await connected;
  return { link, conn, log, signal };
}

test('a status with a 701-character map still reaches the hub with its state change; the cut is logged once', async (t) => {
  const { link, conn, log, signal } = await connectedLink(t);
  link.publishState('status', status({ state: 'crashed', map: 'M'.repeat(701) }));
  const sent = await conn.take((f) => f.type === 'evt' && f.topic === 'status', signal);
  const data = sent.data as ServerStatus;
  assert.equal(data.state, 'crashed', 'the state change is not lost to a decorative field');
  assert.equal(data.map, 'M'.repeat(256));
  for (let n = 0; n < 30; n++) link.publishState('status', status({ state: 'crashed', map: 'M'.repeat(701), players: { online: n, max: 10, names: [] } }));
  await conn.take((f) => f.type === 'evt' && (f.data as ServerStatus).players?.online === 29, signal);
  assert.equal(log.lines.filter((l) => /published without the fields/.test(l.msg)).length, 1, 'logged once, not once per heartbeat');
  assert.throws(() => link.publishState('status', status({ state: 'exploded' })), ReconSyncError, 'the state itself is not decorative');
});

test('an alert whose message is longer than the protocol allows is delivered cut, not lost', async (t) => {
  const { link, conn, signal } = await connectedLink(t);
  await link.publishRecord('alert', { serverId: 'valheim-main', kind: 'crashed', message: 'E'.repeat(5000), at: new Date(0).toISOString() });
  const rec = await conn.take((f) => f.type === 'evt' && f.topic === 'alert', signal);
  assert.equal((rec.data as { message: string }).message.length, 2000);
});

test('fuzz: an odd value in any decorative field never stops a status; identity fields are refused', async (t) => {
  const { link, conn, signal } = await connectedLink(t);
  const odd: unknown[] = ['x'.repeat(5000), '', -1, 1.5, NaN, Infinity, null, undefined, {}, [], [1, 'a'], true, { length: 1e9 }, Array.from({ length: 600 }, () => 'n'.repeat(300))];
  const decorative = [
    'players', 'players.online', 'players.max', 'players.names', 'players.names.0', 'map', 'version', 'resources', 'resources.cpuPercent',
    'resources.rssBytes', 'resources.diskFreeBytes', 'resources.uptimeSec', 'lastBackup', 'lastBackup.size', 'lastBackup.id', 'message', 'name', 'game',
  ];
  const identity = ['id', 'state', 'updatedAt', 'managed'];
  let sent = 0;
  for (const field of [...decorative, ...identity]) {
    for (const value of odd) {
      const s = structuredClone(status()) as unknown as Record<string, unknown>;
      const keys = field.split('.');
      let target = s;
      for (const k of keys.slice(0, -1)) target = target[k] as Record<string, unknown>;
      target[keys.at(-1)!] = value;
      const what = `${field} = ${JSON.stringify(value)?.slice(0, 40)}`;
      const wasValid = ServerStatusSchema.safeParse(s).success;
      try {
        link.publishState('status', { ...(s as unknown as ServerStatus), state: 'crashed', players: s.players as ServerStatus['players'] });
        sent += 1;
      } catch (err) {
        assert.ok(err instanceof ReconSyncError && err.code === 'INVALID_PARAMS', `${what}: ${String(err)}`);
        assert.ok(identity.includes(field) || (field === 'name' || field === 'game'), `${what}: a decorative field stopped the status`);
        assert.ok(!wasValid, `${what}: valid data was refused`);
      }
    }
  }
  // Every frame that went out is valid and kept the state change.
  const frames = [];
  for (let n = 0; n < sent; n++) frames.push(await conn.take((f) => f.type === 'evt' && f.topic === 'status', signal));
  for (const f of frames) {
    const checked = ServerStatusSchema.safeParse(f.data);
    assert.ok(checked.success, JSON.stringify(f.data).slice(0, 300));
    assert.equal(checked.data.state, 'crashed');
  }
  assert.ok(sent >= decorative.length * odd.length - 2 * odd.length, `${sent} statuses sent`);
});

test('repairForSchema cuts first, then drops, then nulls; it never invents identity', () => {
  const r = repairForSchema(ServerStatusSchema, status({ map: 'M'.repeat(300), players: { online: 1, max: 2, names: ['a', 7, 'b', 'c'.repeat(200)] }, lastBackup: { id: 1 } }));
  assert.ok(r);
  assert.equal(r.data.map, 'M'.repeat(256));
  assert.deepEqual(r.data.players.names, ['a', 'b', 'c'.repeat(128)]);
  assert.equal(r.data.lastBackup, null);
  assert.equal(repairForSchema(ServerStatusSchema, status({ id: '../etc' })), null);
  assert.equal(repairForSchema(ServerStatusSchema, null), null);
});
