import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderBoard } from '../../../hub/discord/board.ts';
import { serverChoices, backupChoices } from '../../../hub/discord/handlers/autocomplete.ts';
import { clampEmbed, codeBlock, packEmbeds } from '../../../hub/discord/limits.ts';
import { allows, levelOf } from '../../../hub/discord/permissions.ts';
import { backupListEmbed, serverEmbed, statusListEmbed } from '../../../hub/discord/render.ts';
import { checkEmbeds, checkMessageBody } from '../../support/fake-discord/limits.ts';
import { MemoryHubService } from '../../support/memory-hub-service.ts';

// The bot's limit helpers are checked against the fake's independent validator.

test('clampEmbed makes an oversized embed legal', () => {
  const e = clampEmbed({
    title: 't'.repeat(1000), description: 'd'.repeat(9000), footer: { text: 'f'.repeat(3000) },
    fields: Array.from({ length: 40 }, (_, i) => ({ name: i % 2 ? '' : 'n'.repeat(300), value: 'v'.repeat(2000) })),
  });
  assert.deepEqual(checkEmbeds([e]), []);
});

test('packEmbeds keeps every page within 10 embeds and 6000 characters, in order', () => {
  const sizes = [10, 5000, 900, 900, 900, 900, 900, 900, 900, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5999, 6000, 7000];
  const embeds = sizes.map((n, i) => ({ title: String(i), description: 'x'.repeat(n) }));
  const pages = packEmbeds(embeds);
  for (const p of pages) assert.deepEqual(checkEmbeds(p), []);
  assert.deepEqual(pages.flat().map((e) => e.title), sizes.map((_, i) => String(i)));
});

test('codeBlock fits its budget and cannot be broken out of', () => {
  for (const text of ['', 'ok', '```', 'x'.repeat(10_000), '```'.repeat(2000)]) {
    const b = codeBlock(text, 1900);
    assert.ok(b.length <= 1900, `length ${b.length}`);
    assert.equal(b.match(/```/g)?.length, 2);
  }
});

test('roles: admin implies operator implies viewer; an empty viewer list lets everyone view', () => {
  const roles = { viewer: [], operator: ['o'], admin: ['a'] };
  assert.equal(levelOf(roles, []), 'viewer');
  assert.equal(levelOf(roles, ['o']), 'operator');
  assert.equal(levelOf(roles, ['o', 'a']), 'admin');
  assert.ok(allows('admin', 'operator') && allows('admin', 'viewer') && !allows('operator', 'admin') && !allows(null, 'viewer'));
  assert.equal(levelOf({ viewer: ['v'], operator: [], admin: [] }, ['x']), null);
  assert.equal(levelOf({ viewer: ['v'], operator: ['o'], admin: [] }, ['o']), 'operator');
  assert.equal(levelOf({ viewer: [], operator: [], admin: [] }, ['anything']), 'viewer', 'no admin configured: nobody is admin');
});

test('renders stay legal for extreme server data', () => {
  const svc = new MemoryHubService();
  const huge = 'Ü'.repeat(300);
  for (let i = 0; i < 60; i++) {
    svc.addServer(`s-${i}`, {
      name: huge, map: huge, version: huge,
      players: { online: 500, max: 500, names: Array.from({ length: 500 }, (_, n) => `player_${n}_${huge.slice(0, 100)}`) },
    });
    svc.addBackup(`s-${i}`, { note: huge, destinations: Array.from({ length: 20 }, (_, n) => ({ target: `remote${n}:${huge}`, verified: n % 2 === 0 })) });
  }
  const servers = svc.listServers();
  for (const page of renderBoard(servers)) assert.deepEqual(checkMessageBody({ embeds: page.embeds }), []);
  assert.deepEqual(checkEmbeds([serverEmbed(servers[0]!, { withPlayers: true })]), []);
  assert.deepEqual(checkEmbeds([statusListEmbed(servers)]), []);
  assert.deepEqual(checkEmbeds([backupListEmbed('s-0', Array.from({ length: 50 }, () => svc.listBackups('s-0')[0]!))]), []);
  const choices = serverChoices(servers, 's');
  assert.equal(choices.length, 25);
  assert.ok(choices.every((c) => c.name.length <= 100 && c.value.length <= 100));
  assert.ok(backupChoices(svc.listBackups('s-1'), '', Date.now()).every((c) => c.name.length <= 100));
});
