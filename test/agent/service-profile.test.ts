import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkAgentConfig } from '../../agent/check.ts';
import { isServiceProfilePath } from '../../agent/platform/service-profile.ts';

test('isServiceProfilePath: LocalSystem and virtual-account profiles, any casing and separators; nothing else', () => {
  assert.equal(isServiceProfilePath('C:\\Windows\\System32\\config\\systemprofile\\AppData\\LocalLow\\IronGate'), true);
  assert.equal(isServiceProfilePath('c:/windows/serviceprofiles/ReconSyncAgent/AppData'), true);
  assert.equal(isServiceProfilePath('C:\\Windows\\SysWOW64\\config\\systemprofile'), true);
  assert.equal(isServiceProfilePath('C:\\Users\\ops\\AppData\\LocalLow\\IronGate'), false);
  assert.equal(isServiceProfilePath('D:\\Windows\\ServiceProfilesBackup'), false);
});

// The agent on Windows checks its config the same way (agent start runs checkAgentConfig): run the
// Windows branch here with the service's USERPROFILE, as the SCM gives it to LocalSystem.
test('a Windows profile save path in the service profile is refused, saying how to fix it; a saveDir naming it passes', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-svcprofile-'));
  const saved = process.env.USERPROFILE;
  process.env.USERPROFILE = 'C:\\Windows\\System32\\config\\systemprofile';
  t.after(async () => {
    if (saved === undefined) delete process.env.USERPROFILE;
    else process.env.USERPROFILE = saved;
    await rm(dir, { recursive: true, force: true });
  });
  const file = path.join(dir, 'agent.yaml');
  const yaml = (extra: string) => `id: box-1
hub: { url: "ws://127.0.0.1:9/agent", token: rsa_0123456789abcdefghij }
dataDir: ./data
servers:
  - id: valheim-main
    game: valheim
    gamePort: 2456
${extra}`;
  await writeFile(file, yaml(''));
  await assert.rejects(checkAgentConfig(file, { platform: 'windows' }), (err: Error) => {
    assert.match(err.message, /servers\[valheim-main\]\.saveDir: the Valheim save folder resolves to "C:\\Windows\\System32\\config\\systemprofile\\AppData\\LocalLow\\IronGate\\Valheim\\worlds_local", the service account's own profile/);
    assert.match(err.message, /Set saveDir to the world folder/);
    return true;
  });
  // Named on purpose: accepted.
  await writeFile(file, yaml("    saveDir: 'C:\\Windows\\System32\\config\\systemprofile\\AppData\\LocalLow\\IronGate\\Valheim\\worlds_local'\n"));
  const ok = await checkAgentConfig(file, { platform: 'windows' });
  assert.equal(ok.servers.length, 1);
  // Linux is not affected.
  await writeFile(file, yaml(''));
  assert.equal((await checkAgentConfig(file, { platform: 'linux' })).servers.length, 1);
});
