import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { AgentConfigSchema, isRemoteOrAbsolute, resolveAgentPaths } from '../../agent/config.ts';

test('backup destinations: remotes, on-the-fly backends and absolute paths stay; relative paths resolve against the config', () => {
  for (const kept of ['local', 'b2:bucket/ark', 'my remote:x', ':local:/srv/vault', ':sftp,host=example.org:backups', '/srv/backups', 'C:\\Backups']) {
    assert.ok(isRemoteOrAbsolute(kept, path.posix), kept);
  }
  for (const relative of ['backups', './backups', '../vault/ark']) assert.equal(isRemoteOrAbsolute(relative, path.posix), false, relative);
  const parsed = AgentConfigSchema.parse({
    id: 'a', hub: { url: 'ws://h/agent', token: 'rsa_0123456789abcdefgh' },
    servers: [{ id: 's', game: 'ark', backup: { destinations: ['local', './vault', ':local:/v', 'r:x'] } }],
  });
  const cfg = resolveAgentPaths({ ...parsed, configDir: '/etc/reconsync', configFile: '/etc/reconsync/agent.yaml' }, path.posix);
  assert.deepEqual(cfg.servers[0]!.backup.destinations, ['local', '/etc/reconsync/vault', ':local:/v', 'r:x']);
  assert.equal(cfg.dataDir, '/etc/reconsync/agent-data');
});
