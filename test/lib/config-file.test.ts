import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseYamlConfig } from '../../lib/config-file.ts';
import { AgentConfigSchema, loadAgentConfig } from '../../agent/config.ts';
import { loadHubConfig } from '../../hub/config.ts';

const agentYaml = `
id: box-1
hub:
  url: ws://127.0.0.1:7780/agent
  token: \${AGENT_TOKEN}
dataDir: ./data
servers:
  - id: ark-main
    game: ark
    installDir: ../ark
    rcon:
      password: \${RCON_PASSWORD:-fallback-pass}
    profile:
      saves:
        paths:
          linux: ["\${installDir}/ShooterGame/Saved/SavedArks"]
`;

test('env references are substituted, defaults apply, profile variables are left alone, relative paths resolve against the file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rs-cfg-'));
  try {
    const file = path.join(dir, 'agent.yaml');
    await writeFile(file, agentYaml);
    const cfg = loadAgentConfig(file, { env: { AGENT_TOKEN: 'rsa_0123456789abcdef0123' } });
    assert.equal(cfg.hub.token, 'rsa_0123456789abcdef0123');
    assert.equal(cfg.servers[0]!.rcon!.password, 'fallback-pass');
    assert.equal(cfg.dataDir, path.join(dir, 'data'));
    assert.equal(cfg.servers[0]!.installDir, path.resolve(dir, '../ark'));
    assert.deepEqual((cfg.servers[0]!.profile as { saves: { paths: { linux: string[] } } }).saves.paths.linux, ['${installDir}/ShooterGame/Saved/SavedArks']);
    assert.ok(Object.isFrozen(cfg), 'config is frozen');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an unset variable is an error naming the file and the key, even for an optional field', () => {
  assert.throws(() => parseYamlConfig(agentYaml.replace(':-fallback-pass', ''), '/etc/reconsync/agent.yaml', AgentConfigSchema, { env: { AGENT_TOKEN: 'rsa_0123456789abcdef0123' } }), (err: ConfigError) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /\/etc\/reconsync\/agent\.yaml/);
    assert.match(err.message, /servers\[ark-main\]\.rcon\.password: environment variable RCON_PASSWORD is not set/);
    return true;
  });
});

test('schema errors name the key path and the expectation', () => {
  const bad = 'id: box 1\nhub:\n  url: http://x\n  token: short\nservers:\n  - id: a\n    game: ark\n    gamePort: 70000\n  - id: a\n    game: ark\n';
  assert.throws(() => parseYamlConfig(bad, '/tmp/agent.yaml', AgentConfigSchema, { env: {} }), (err: ConfigError) => {
    const text = err.problems.join('\n');
    assert.match(text, /^id: /m);
    assert.match(text, /hub\.url: .*ws:\/\//);
    assert.match(text, /hub\.token: /);
    assert.match(text, /servers\[a\]\.gamePort: /);
    assert.match(text, /servers\[a\]\.id: duplicate server id "a"/);
    return true;
  });
});

test('unknown keys and YAML syntax errors are reported, not ignored', () => {
  assert.throws(() => parseYamlConfig('id: a\nhub: {url: ws://x/agent, token: 0123456789abcdef0}\nsrevers: []\n', '/tmp/a.yaml', AgentConfigSchema, { env: {} }), /srevers|Unrecognized key/);
  assert.throws(() => parseYamlConfig('id: [unclosed\n', '/tmp/a.yaml', AgentConfigSchema, { env: {} }), /YAML syntax/);
});

test('hub config: missing api token is named; tls paths resolve against the file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rs-cfg-'));
  try {
    const file = path.join(dir, 'hub.yaml');
    await writeFile(file, 'listen:\n  port: 7780\n  tls:\n    cert: tls/cert.pem\n    key: tls/key.pem\napi:\n  token: ${API_TOKEN}\n');
    assert.throws(() => loadHubConfig(file, { env: {} }), /api\.token: environment variable API_TOKEN is not set/);
    const cfg = loadHubConfig(file, { env: { API_TOKEN: 'a-long-enough-api-token' } });
    assert.equal(cfg.listen.tls?.cert, path.join(dir, 'tls/cert.pem'));
    assert.equal(cfg.dataDir, path.join(dir, 'hub-data'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
