import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PLAYER_EVENTS_PER_MINUTE } from '../../../hub/events/players.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { API_TOKEN, FakeAgent, newToken, startHub, status, summary, tempDir, waitFor } from '../helpers.ts';

test('player joins and leaves come from the difference between status polls, with session lengths', async (t) => {
  const tmp = await tempDir();
  const clock = new FakeClock(Date.parse('2026-01-01T12:00:00Z'));
  const hub = await startHub(tmp.dir, { clock });
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('s1')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  const players = (names: string[]) => ({ players: { online: names.length, max: 10, names } });
  const seen = () => hub.store.hubEvents.list({ since: 0, limit: 100, kinds: ['player_join', 'player_leave'] });

  agent.send({ type: 'evt', topic: 'status', data: status('s1', players(['Ann', 'Bo'])) });
  await waitFor(() => hub.players.online('s1')?.length === 2);
  assert.deepEqual(seen(), [], 'players already on when the hub first hears of the server did not just join');

  await clock.advance(90 * 60_000);
  agent.send({ type: 'evt', topic: 'status', data: status('s1', players(['Bo', 'Cy'])) });
  await waitFor(() => seen().length === 2);
  const [leave, join] = seen();
  assert.equal(leave!.kind, 'player_leave');
  assert.deepEqual(leave!.data, { player: 'Ann', sessionSeconds: 5400 });
  assert.equal(leave!.message, 'Ann left after 1 h 30 min');
  assert.equal(join!.kind, 'player_join');
  assert.equal(join!.serverId, 's1');
  assert.deepEqual(join!.data, { player: 'Cy' });

  await clock.advance(60_000);
  assert.deepEqual(hub.players.online('s1')!.map((p) => [p.name, p.seconds]), [['Bo', 5460], ['Cy', 60]]);
  const api = await fetch(`${hub.url}/api/v1/servers/s1/players`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
  assert.equal(api.status, 200);
  assert.deepEqual((await api.json() as { name: string }[]).map((p) => p.name), ['Bo', 'Cy']);

  // The game stops: everyone leaves.
  agent.send({ type: 'evt', topic: 'status', data: status('s1', { state: 'stopped', ...players([]) }) });
  await waitFor(() => seen().length === 4);
  assert.deepEqual(seen().slice(2).map((e) => e.data.player).sort(), ['Bo', 'Cy']);
});

test('a counts-only game (profile query.players: counts) gives no join/leave events, whatever names its status carries', async (t) => {
  const tmp = await tempDir();
  const hub = await startHub(tmp.dir);
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('vh'), summary('mark')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  const seen = () => hub.store.hubEvents.list({ since: 0, limit: 100, kinds: ['player_join', 'player_leave'] });
  const polls = [['Ann'], ['Bo', 'Cy'], []];
  for (const [n, names] of polls.entries()) {
    agent.send({ type: 'evt', topic: 'status', data: status('vh', { playerDetail: 'counts', players: { online: names.length, max: 10, names } }) });
    // A names game polled alongside: its events mark that the counts game's status before it was handled too.
    agent.send({ type: 'evt', topic: 'status', data: status('mark', { playerDetail: 'names', players: { online: 1, max: 10, names: [`p${n}`] } }) });
    await waitFor(() => hub.players.online('mark')?.[0]?.name === `p${n}`);
  }
  assert.equal(hub.players.online('vh'), null, 'no list for a game that gives no names');
  assert.equal(hub.service.getServer('vh').playerDetail, 'counts');
  assert.deepEqual(seen().map((e) => [e.kind, e.serverId, e.data.player]), [
    ['player_leave', 'mark', 'p0'], ['player_join', 'mark', 'p1'], ['player_leave', 'mark', 'p1'], ['player_join', 'mark', 'p2'],
  ]);
});

test('an agent flooding statuses with new names gets at most its budget of player events; the list still follows, the budget refills', async (t) => {
  const tmp = await tempDir();
  const clock = new FakeClock(Date.parse('2026-01-01T12:00:00Z'));
  const hub = await startHub(tmp.dir, { clock });
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('s1')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  const count = () => hub.store.hubEvents.list({ since: 0, limit: 10_000, kinds: ['player_join', 'player_leave'] }).length;
  const crowd = (round: number) => Array.from({ length: 500 }, (_, i) => `r${round}-p${i}`);
  const send = (round: number) => agent.send({ type: 'evt', topic: 'status', data: status('s1', { players: { online: 500, max: 512, names: crowd(round) } }) });

  send(0); // seeds the list: no events
  for (let round = 1; round <= 20; round++) send(round);
  await waitFor(() => hub.players.online('s1')?.[0]?.name.startsWith('r20-'));
  assert.equal(count(), PLAYER_EVENTS_PER_MINUTE, '20 x 1000 changes, one minute budget of events');
  assert.equal(hub.players.online('s1')!.length, 500, 'the list follows every status');

  await clock.advance(60_000);
  send(21);
  await waitFor(() => hub.players.online('s1')?.[0]?.name.startsWith('r21-'));
  assert.equal(count(), 2 * PLAYER_EVENTS_PER_MINUTE, 'a minute later the budget is back');
});

test('GET …/players: who is on for a names game; for a counts-only game a clear 422 with the count, not an empty list', async (t) => {
  const tmp = await tempDir();
  const hub = await startHub(tmp.dir);
  const { agent } = await FakeAgent.online(hub, 'a1', newToken(hub, 'a1'), [summary('vh'), summary('mark')]);
  t.after(async () => { agent.close(); await hub.close(); await tmp.cleanup(); });
  agent.send({ type: 'evt', topic: 'status', data: status('vh', { playerDetail: 'counts', players: { online: 3, max: 10, names: [] } }) });
  agent.send({ type: 'evt', topic: 'status', data: status('mark', { playerDetail: 'names', players: { online: 1, max: 10, names: ['Ann'] } }) });
  await waitFor(() => hub.players.online('mark')?.length === 1 && hub.service.getServer('vh').players.online === 3);
  const get = (id: string) => fetch(`${hub.url}/api/v1/servers/${id}/players`, { headers: { authorization: `Bearer ${API_TOKEN}` }, signal: AbortSignal.timeout(5000) });
  const names = await get('mark');
  assert.equal(names.status, 200);
  assert.deepEqual(((await names.json()) as Array<{ name: string }>).map((p) => p.name), ['Ann']);
  const counts = await get('vh');
  assert.equal(counts.status, 422);
  assert.match(await counts.text(), /reports how many players are on \(3 of 10\), not who/);
});
