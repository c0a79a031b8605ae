import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigSchemas, configJsonSchema, writeConfigSchemas } from '../../tools/config-schema.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface JsonSchema { $schema?: string; $id?: string; title?: string; description?: string; type?: string; properties?: Record<string, JsonSchema>; required?: string[]; additionalProperties?: unknown; items?: JsonSchema }

test('writeConfigSchemas writes JSON Schema for hub.yaml, agent.yaml and game profiles', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-schema-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'nested', 'schemas');
  const written = await writeConfigSchemas(out);
  assert.deepEqual(written, ['hub.schema.json', 'agent.schema.json', 'game-profile.schema.json'].map((f) => path.join(out, f)));
  assert.deepEqual((await readdir(out)).sort(), ['agent.schema.json', 'game-profile.schema.json', 'hub.schema.json']);

  const read = async (f: string) => JSON.parse(await readFile(path.join(out, f), 'utf8')) as JsonSchema;
  const hub = await read('hub.schema.json');
  const agent = await read('agent.schema.json');
  const profile = await read('game-profile.schema.json');
  for (const s of [hub, agent, profile]) {
    assert.equal(s.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.equal(s.type, 'object');
    assert.equal(s.additionalProperties, false, 'unknown keys are errors, as in config check');
  }
  assert.deepEqual(Object.keys(hub.properties!).sort(), ['alerts', 'api', 'dataDir', 'discord', 'listen', 'logLevel']);
  assert.deepEqual(hub.required, ['api'], 'keys with defaults are optional in what people write');
  assert.deepEqual(Object.keys(hub.properties!.discord!.properties!).filter((k) => ['token', 'applicationId', 'roles'].includes(k)).sort(), ['applicationId', 'roles', 'token']);
  for (const k of ['id', 'hub', 'dataDir', 'servers', 'rclone']) assert.ok(agent.properties![k], `agent.${k}`);
  assert.deepEqual(agent.required?.sort(), ['hub', 'id']);
  const server = agent.properties!.servers!.items!;
  for (const k of ['id', 'game', 'gamePort', 'rcon', 'installDir', 'saveDir', 'start', 'restart', 'backup']) assert.ok(server.properties![k], `servers[].${k}`);
  for (const k of ['id', 'name', 'query', 'admin', 'saves', 'process', 'stop']) assert.ok(profile.properties![k], `profile.${k}`);
});

test('every top-level key of the example configs is in the generated schema', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-schema-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeConfigSchemas(dir);
  for (const [example, schemaFile] of [['hub.yaml', 'hub.schema.json'], ['agent.yaml', 'agent.schema.json']] as const) {
    const schema = JSON.parse(await readFile(path.join(dir, schemaFile), 'utf8')) as JsonSchema;
    const doc = parse(await readFile(path.join(repo, 'deploy/examples', example), 'utf8')) as Record<string, unknown>;
    for (const key of Object.keys(doc)) assert.ok(schema.properties![key], `${example}: ${key}`);
  }
});

/** Paths of every property (at any depth, in items, unions and maps) that has no description. */
function undescribed(schema: unknown, at: string, out: string[] = []): string[] {
  if (Array.isArray(schema)) {
    for (const s of schema) undescribed(s, at, out);
    return out;
  }
  if (!schema || typeof schema !== 'object') return out;
  const s = schema as Record<string, unknown>;
  for (const [key, prop] of Object.entries((s.properties ?? {}) as Record<string, { description?: unknown }>)) {
    if (typeof prop.description !== 'string' || prop.description.trim().length < 8) out.push(`${at}.${key}`);
    undescribed(prop, `${at}.${key}`, out);
  }
  if (s.items) undescribed(s.items, `${at}[]`, out);
  for (const k of ['anyOf', 'oneOf', 'allOf', 'additionalProperties', 'definitions', '$defs']) if (s[k]) undescribed(s[k], at, out);
  return out;
}

test('every key of the hub, agent and game-profile schemas has a description from its zod schema', () => {
  const missing = ConfigSchemas.flatMap((entry) => undescribed(configJsonSchema(entry), entry.name));
  assert.deepEqual(missing, [], 'add .describe() to these keys in hub/config.ts, agent/config.ts or games/profile.ts');
  // The walk reaches nested objects, array items and optional wrappers, so a missing one anywhere fails.
  const probe = z.object({ a: z.array(z.object({ b: z.object({ c: z.string() }).optional().describe('B described') })).describe('A described') });
  assert.deepEqual(undescribed(z.toJSONSchema(probe, { io: 'input' }), 'probe'), ['probe.a[].b.c']);
});

interface Run { code: number; stdout: string; stderr: string }
function cli(cwd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repo, 'bin/reconsync.js'), ...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('`config schema hub|agent|profile` prints to stdout and writes nothing into the current folder; --out writes only where asked', async (t) => {
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'reconsync-schema-cwd-'));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  for (const [name, title] of [['hub', 'ReconSync hub.yaml'], ['agent', 'ReconSync agent.yaml'], ['profile', 'ReconSync game profile (games/<id>.yaml)']] as const) {
    const r = await cli(cwd, ['config', 'schema', name]);
    assert.equal(r.code, 0, r.stderr);
    const schema = JSON.parse(r.stdout) as JsonSchema;
    assert.equal(schema.title, title);
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  }
  assert.deepEqual(await readdir(cwd), [], 'nothing written into the current folder');

  const bare = await cli(cwd, ['config', 'schema']);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /usage: reconsync config schema hub\|agent\|profile/);
  const unknown = await cli(cwd, ['config', 'schema', 'hubb']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no config schema "hubb"/);
  assert.deepEqual(await readdir(cwd), []);

  const all = await cli(cwd, ['config', 'schema', '--out', 'schemas']);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual((await readdir(path.join(cwd, 'schemas'))).sort(), ['agent.schema.json', 'game-profile.schema.json', 'hub.schema.json']);
  const one = await cli(cwd, ['config', 'schema', 'agent', '--out', 'one']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(await readdir(path.join(cwd, 'one')), ['agent.schema.json']);
  assert.deepEqual((await readdir(cwd)).sort(), ['one', 'schemas']);
});
