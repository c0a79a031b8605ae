// Issue 11: `reconsync config check` refuses update: on a game not on Steam and a bad update.check schedule.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { cliPath, tempDir } from '../../support/stack.ts';
import { SteamCmdStandIn } from '../../support/steamcmd/index.ts';

const run = promisify(execFile);

test('update: needs a Steam game and a valid check schedule', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir('reconsync-check-');
  try {
    const file = path.join(dir, 'agent.yaml');
    await writeFile(file, [
      'id: box-1', 'hub: { url: "ws://127.0.0.1:9/agent", token: rsa_0123456789abcdefghij }', 'servers:',
      '  - { id: mc, game: minecraft, installDir: ./mc, saveDir: ./mcw, update: { policy: notify } }',
      '  - { id: vh, game: valheim, installDir: ./vh, saveDir: ./vhw, update: { check: "every day" } }', '',
    ].join('\n'));
    const err = await run(process.execPath, [cliPath, 'config', 'check', file], { env: new SteamCmdStandIn(dir).env() }).then(() => null, (e: { code: number; stderr: string }) => e);
    assert.ok(err, 'the check fails');
    assert.equal(err.code, 3);
    assert.match(err.stderr, /servers\[mc\]\.update: game minecraft is not installed through Steam/);
    assert.match(err.stderr, /servers\[vh\]\.update\.check: "every day" is not a cron expression/);
    assert.doesNotMatch(err.stderr, /steamcmd/, 'the stand-in on PATH counts as SteamCMD');
  } finally {
    await cleanup();
  }
});
