/**
 * Fuzzing config parsing: mutated agent.yaml and hub.yaml texts through
 * lib/config-file.ts parseYamlConfig with the real schemas (agent/config.ts,
 * hub/config.ts). Each input ends as a deep-frozen config or a ConfigError
 * that names the file; never another exception, never a changed prototype.
 *
 *   FUZZ_SEED=123 FUZZ_ITERATIONS=100000 node --import tsx --test test/fuzz/config.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AgentConfigSchema } from '../../agent/config.ts';
import { checkConfigFile } from '../../cli/config-check.ts';
import { HubConfigSchema } from '../../hub/config.ts';
import { ConfigError, MAX_CONFIG_DEPTH, parseYamlConfig } from '../../lib/config-file.ts';
import { fuzzRun, iterationRng, preview, protoGuard } from './fuzz-kit.ts';
import { ALIAS_TEXTS, DEEP_YAML_DEPTHS, DEEP_YAML_STYLES, assertDeepFrozen, assertNamesFile, attempt, deepYaml, muteWarnings, mutateYaml } from './yaml-fuzz.ts';

const AGENT_FILE = '/fuzz/etc/reconsync/agent.yaml';
const HUB_FILE = '/fuzz/etc/reconsync/hub.yaml';
const ENV = { FUZZ_TOKEN: 'rsa_fuzz-token-0123456789abcdef', RCON_PASSWORD: 'pw', API_TOKEN: 'api-token-0123456789abcdef', DISCORD_TOKEN: 'discord' };

const AGENT_YAML = `id: eu-box-1
hub: { url: ws://127.0.0.1:7780/agent, token: "\${FUZZ_TOKEN}" }
dataDir: ./agent-data
logLevel: info
rclone: { binary: rclone, timeoutMs: 600000 }
servers:
  - id: valheim-main
    game: valheim
    name: Valheim Main
    gamePort: 2456
    query: { host: 127.0.0.1, port: 2457 }
    installDir: /opt/valheim
    saveDir: /srv/valheim/worlds_local
    vars: { world: Dedicated }
    restart: { onCrash: true, maxPerHour: 3 }
    backup:
      schedule: "0 */6 * * *"
      timezone: Europe/Berlin
      keep: { last: 10, daily: 7, weekly: 4 }
      destinations: ["local", "myremote:bucket/valheim"]
  - id: ark-island
    game: ark
    gamePort: 7777
    rcon: { host: 127.0.0.1, port: 27020, password: "\${RCON_PASSWORD}" }
    start: { command: ./ShooterGameServer, args: ["TheIsland?listen", -server], cwd: /srv/ark, env: { A: b } }
    adopt: { pidFile: /run/ark.pid }
    health: { intervalMs: 5000, failures: 3 }
    stop: { timeoutMs: 120000 }
    profile: { admin: { saveCommand: saveworld } }
`;

const HUB_YAML = `listen: { host: 0.0.0.0, port: 7780, trustProxy: false }
dataDir: ./hub-data
api: { token: "\${API_TOKEN}" }
logLevel: info
discord:
  token: \${DISCORD_TOKEN}
  applicationId: "123"
  guildId: "456"
  apiBaseUrl: http://127.0.0.1:9999/api
  roles: { viewer: [], operator: ["1"], admin: ["2"] }
  statusChannelId: "789"
  alertChannelId: "790"
`;

const targets = [
  { name: 'agent.yaml', file: AGENT_FILE, seed: AGENT_YAML, parse: (text: string) => parseYamlConfig(text, AGENT_FILE, AgentConfigSchema, { env: ENV }) },
  { name: 'hub.yaml', file: HUB_FILE, seed: HUB_YAML, parse: (text: string) => parseYamlConfig(text, HUB_FILE, HubConfigSchema, { env: ENV }) },
];

test('the seed configs are valid (the fuzzer starts from working files)', () => {
  for (const t of targets) {
    const cfg = t.parse(t.seed);
    assertDeepFrozen(cfg);
    assert.equal(cfg.configFile, t.file);
  }
});

for (const target of targets) {
  test(`mutated ${target.name}: a frozen config or a ConfigError naming the file`, (t) => {
    const run = fuzzRun(t, `config ${target.name}`, 5_000);
    const guard = protoGuard();
    const warnings = muteWarnings();
    t.after(() => warnings.restore());
    const counts = { ok: 0, configError: 0 };
    for (let i = 0; i < run.iterations; i++) {
      const text = mutateYaml(iterationRng(run.seed, i), target.seed);
      const outcome = attempt(() => target.parse(text));
      try {
        if (outcome.kind === 'ok') {
          counts.ok++;
          assertDeepFrozen(outcome.value);
        } else if (outcome.kind === 'config-error') {
          counts.configError++;
          assertNamesFile(outcome.error, target.file);
        } else {
          throw new Error(`threw ${(outcome.error as Error)?.name}: ${(outcome.error as Error)?.message ?? String(outcome.error)}`);
        }
        if (i % 256 === 0) guard();
      } catch (err) {
        throw new Error(`${run.where(i)}: ${(err as Error).message}\n  input: ${preview(text, 600)}`, { cause: err });
      }
    }
    guard();
    t.diagnostic(`${target.name}: ${JSON.stringify(counts)}, ${warnings.count()} yaml warnings muted`);
    assert.ok(counts.ok > 0 && counts.configError > 0, `the mutations should produce both valid and invalid configs: ${JSON.stringify(counts)}`);
  });
}

test('YAML anchors and aliases (billion laughs, cycles, undefined) end as ConfigError', () => {
  for (const target of targets) {
    for (const text of ALIAS_TEXTS) {
      const outcome = attempt(() => target.parse(text));
      assert.notEqual(outcome.kind, 'other', `${target.name} ${JSON.stringify(text.slice(0, 60))}: ${String((outcome as { error?: unknown }).error)}`);
      if (outcome.kind === 'config-error') assertNamesFile(outcome.error, target.file);
    }
  }
});

test('deep nesting in any position ends as a ConfigError naming the limit, before yaml recurses', () => {
  for (const target of targets) {
    for (const depth of DEEP_YAML_DEPTHS) {
      for (const style of DEEP_YAML_STYLES) {
        const deep = deepYaml(depth, style);
        // As a value of a top-level key, of a nested key, of a list item, and as the whole document.
        const texts = [
          target.seed.replace(/^dataDir: .*$/m, `dataDir: ${deep}`),
          target.seed.replace(/^(\s+)name: (.*)$/m, (_m, sp: string) => `${sp}name: ${deep.replace(/\n/g, `\n${sp}`)}`),
          target.seed.replace(/^(\s+)- id: (.*)$/m, (_m, sp: string, v: string) => `${sp}- id: ${v}\n${sp}  extra: ${deep.replace(/\n/g, `\n${sp}  `)}`),
          deep.trimStart(),
        ].filter((text) => text !== target.seed); // hub.yaml has no server list
        for (const text of texts) {
          const outcome = attempt(() => target.parse(text));
          const label = `${target.name} ${style} depth ${depth}`;
          assert.equal(outcome.kind, 'config-error', `${label}: ${outcome.kind === 'other' ? String(outcome.error) : 'accepted'}`);
          assertNamesFile((outcome as { error: ConfigError }).error, target.file);
          assert.match((outcome as { error: ConfigError }).error.message, new RegExp(`nested deeper than ${MAX_CONFIG_DEPTH} levels \\(line \\d+\\)`), label);
        }
      }
    }
  }
});

test('`config check` refuses a deep config with the depth error, before any YAML parse', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'rs-deep-check-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [i, style] of DEEP_YAML_STYLES.entries()) {
    const file = join(dir, `c${i}.yaml`);
    await writeFile(file, HUB_YAML.replace(/^dataDir: .*$/m, `dataDir: ${deepYaml(5_000, style)}`));
    await assert.rejects(checkConfigFile(file), (err: unknown) => err instanceof ConfigError && new RegExp(`nested deeper than ${MAX_CONFIG_DEPTH} levels`).test(err.message), style);
  }
});
