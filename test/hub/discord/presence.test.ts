import assert from 'node:assert/strict';
import { test } from 'node:test';
import { presenceText } from '../../../hub/discord/presence.ts';
import { startHarness } from './harness.ts';

type Presence = { activities: { name: string; type: number }[]; status: string };

test('the bot\'s presence shows players online across running servers, updated on change', async (t) => {
  const h = await startHarness(t, { options: { presenceIntervalMs: 50 } });
  const last = () => (h.fake.presences.at(-1) as Presence | undefined)?.activities[0]?.name;
  await h.fake.waitFor(() => last() === '0 players on 0 servers', { what: 'the first presence' });
  h.service.addServer('vh', { players: { online: 2, max: 10, names: ['a', 'b'] } });
  h.service.addServer('ark', { players: { online: 1, max: 70, names: [] } });
  h.service.addServer('down', { state: 'crashed', players: { online: 0, max: 10, names: [] } });
  h.service.emit('server', h.service.getServer('vh'));
  await h.fake.waitFor(() => last() === '3 players on 2 servers', { what: 'the updated presence' });
  assert.equal((h.fake.presences.at(-1) as Presence).activities[0]!.type, 3, 'Watching');
});

test('presence text', () => {
  assert.equal(presenceText([]), '0 players on 0 servers');
});
