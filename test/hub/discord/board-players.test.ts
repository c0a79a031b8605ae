import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderBoard } from '../../../hub/discord/board.ts';
import { MemoryHubService } from '../../support/memory-hub-service.ts';

test('board cards list the players when the game gives names, and the next scheduled restart', () => {
  const svc = new MemoryHubService();
  svc.addServer('vh', { name: 'Valheim', players: { online: 2, max: 10, names: ['Odin', 'Freya'] }, nextRestart: '2026-01-01T05:00:00.000Z' });
  svc.addServer('ark', { name: 'Ark', players: { online: 3, max: 70, names: [] } });
  const [page] = renderBoard(svc.listServers());
  const cards = page!.embeds!;
  const vh = cards.find((c) => c.title?.includes('Valheim'))!;
  assert.deepEqual(vh.fields!.find((f) => f.name === 'Online now')?.value, 'Odin, Freya');
  assert.equal(vh.fields!.find((f) => f.name === 'Next restart')?.value, `<t:${Date.parse('2026-01-01T05:00:00.000Z') / 1000}:R>`);
  const ark = cards.find((c) => c.title?.includes('Ark'))!;
  assert.equal(ark.fields!.some((f) => f.name === 'Online now' || f.name === 'Next restart'), false, 'a counts-only game and no schedule add nothing');
});
