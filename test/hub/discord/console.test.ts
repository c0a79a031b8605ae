import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messageText } from '../../support/fake-discord/index.ts';
import { startHarness, users } from './harness.ts';

test('/console follows the log in its reply (edits only on change), minutes:0 ends it; admin only', async (t) => {
  const h = await startHarness(t, { options: { consoleEditIntervalMs: 50 } });
  h.service.addServer('valheim-main', { name: 'Valheim Main' });
  h.service.logLines = ['Server started', 'Player Odin joined'];

  const denied = await h.fake.command({ name: 'console', options: { server: 'valheim-main' }, user: users.operator }).reply();
  assert.match(denied.content, /needs the admin role/);

  const cmd = h.fake.command({ name: 'console', options: { server: 'valheim-main', minutes: 2 }, user: users.admin });
  const first = await cmd.replyMatching(/Player Odin joined/);
  assert.match(messageText(first), /`valheim-main` console, following/);
  h.service.logLines.push('Saved world ```oops```');
  const later = await cmd.replyMatching(/Saved world/);
  assert.ok(!later.content.includes('```oops```'), 'log text cannot close the code block');

  const stop = await h.fake.command({ name: 'console', options: { server: 'valheim-main', minutes: 0 }, user: users.admin }).reply();
  assert.match(stop.content, /Stopped following the console of `valheim-main`/);
  await cmd.replyMatching(/console \(ended\)/);
  assert.ok(h.service.auditLog.some((a) => a.action === 'server.console' && a.detail === '2 min'));
  assert.deepEqual(h.fake.violations, []);
});
