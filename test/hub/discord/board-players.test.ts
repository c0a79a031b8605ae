import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderBoard } from '../../../hub/discord/board.ts';
import { MemoryHubService } from '../../support/memory-hub-service.ts';

test('board cards list the players when the game gives names, the next scheduled restart and how to connect', () => {
  const svc = new MemoryHubService();
  svc.addServer('vh', { name: 'Valheim', players: { online: 2, max: 10, names: ['Odin', 'Freya'] }, nextRestart: '2026-01-01T05:00:00.000Z', connect: 'play.example.org:2456' });
  svc.addServer('cs', { name: 'CS', connect: 'steam://connect/203.0.113.5:27015' });
  svc.addServer('ark', { name: 'Ark', players: { online: 3, max: 70, names: [] } });
  const [page] = renderBoard(svc.listServers());
  const cards = page!.embeds!;
  const vh = cards.find((c) => c.title?.includes('Valheim'))!;
  assert.deepEqual(vh.fields!.find((f) => f.name === 'Online now')?.value, 'Odin, Freya');
  assert.equal(vh.fields!.find((f) => f.name === 'Next restart')?.value, `<t:${Date.parse('2026-01-01T05:00:00.000Z') / 1000}:R>`);
  assert.equal(vh.fields!.find((f) => f.name === 'Connect')?.value, '`play.example.org:2456`');
  assert.equal(cards.find((c) => c.title?.includes('CS'))!.fields!.find((f) => f.name === 'Connect')?.value, 'steam://connect/203.0.113.5:27015', 'a steam link stays clickable');
  const ark = cards.find((c) => c.title?.includes('Ark'))!;
  assert.equal(ark.fields!.some((f) => f.name === 'Online now' || f.name === 'Next restart' || f.name === 'Connect'), false, 'a counts-only game, no schedule and no connect add nothing');
});
