import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../lib/config-file.ts';
import { loadHubConfig } from '../../hub/config.ts';
import { loadAgentConfig } from '../../agent/config.ts';
import { resolveAgentServers } from '../../agent/resolve-servers.ts';

const examples = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/examples');
const env = {
  RECONSYNC_API_TOKEN: 'api-token-0123456789abcdef',
  DISCORD_TOKEN: 'discord-bot-token',
  RECONSYNC_AGENT_TOKEN: 'agent-token-0123456789abcdef',
  ARK_ADMIN_PASSWORD: 'ark-admin-secret',
};

test('deploy/examples/hub.yaml validates, with Discord and its secrets from the environment', () => {
  const cfg = loadHubConfig(path.join(examples, 'hub.yaml'), { env });
  assert.equal(cfg.api.token, env.RECONSYNC_API_TOKEN);
  assert.equal(cfg.dataDir, '/var/lib/reconsync/hub');
  assert.equal(cfg.listen.port, 7780);
  assert.equal(cfg.discord?.token, env.DISCORD_TOKEN);
  assert.deepEqual(cfg.discord?.roles.operator, ['223344556677889900']);
});

test('deploy/examples/agent.yaml validates and resolves against the game profiles', () => {
  const cfg = loadAgentConfig(path.join(examples, 'agent.yaml'), { env });
  assert.equal(cfg.hub.token, env.RECONSYNC_AGENT_TOKEN);
  assert.equal(cfg.dataDir, '/var/lib/reconsync/agent');
  const [valheim, ark] = resolveAgentServers(cfg, 'linux');
  assert.ok(valheim && ark);
  assert.deepEqual([valheim.id, valheim.profile.id, valheim.managed], ['valheim-main', 'valheim', false]);
  assert.deepEqual([ark.id, ark.profile.id, ark.managed], ['ark-island', 'ark', true]);
  assert.equal(ark.admin.password, env.ARK_ADMIN_PASSWORD);
  // The admin password stays off the command line (every local user can read it with ps): GameUserSettings.ini holds it.
  assert.ok(ark.start?.args[0]?.startsWith('TheIsland?listen'));
  assert.ok(!ark.start!.args.join(' ').includes(env.ARK_ADMIN_PASSWORD), 'no password in start.args');
  // One rclone remote besides local, for both servers.
  for (const s of cfg.servers) {
    assert.equal(s.backup.destinations[0], 'local');
    assert.match(String(s.backup.destinations[1]), /^b2:my-reconsync-backups\//);
  }
});

test('a missing token is a precise config error naming the variable', () => {
  assert.throws(
    () => loadAgentConfig(path.join(examples, 'agent.yaml'), { env: { ...env, RECONSYNC_AGENT_TOKEN: undefined } }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p === 'hub.token: environment variable RECONSYNC_AGENT_TOKEN is not set'),
  );
  assert.throws(
    () => loadHubConfig(path.join(examples, 'hub.yaml'), { env: { ...env, RECONSYNC_API_TOKEN: undefined } }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.includes('RECONSYNC_API_TOKEN is not set')),
  );
});
