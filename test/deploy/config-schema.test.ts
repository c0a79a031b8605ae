import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { writeConfigSchemas } from '../../tools/config-schema.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface JsonSchema { $schema?: string; $id?: string; title?: string; type?: string; properties?: Record<string, JsonSchema>; required?: string[]; additionalProperties?: unknown; items?: JsonSchema }

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
  assert.deepEqual(Object.keys(hub.properties!).sort(), ['api', 'dataDir', 'discord', 'listen', 'logLevel']);
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
