// Issue 2 "done means", as a new user would do it: the CLI in separate processes.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { cliPath, runCli, tempDir, waitFor } from '../support/stack.ts';
import { freeTcpPort } from '../../demo/ports.ts';

const API_TOKEN = 'cli-e2e-api-token-0123456789';

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, env);

function start(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  child.kill(signal);
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

async function agents(port: number): Promise<Array<{ id: string; connected: boolean; version: string; servers: string[] }>> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/agents`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as Array<{ id: string; connected: boolean; version: string; servers: string[] }>;
}

test('--version, --help and usage errors have stable exit codes', async () => {
  const version = await cli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  assert.equal((await cli(['--help'])).code, 0);
  assert.equal((await cli(['frobnicate'])).code, 2);
  assert.equal((await cli(['token', 'create'])).code, 2);
  const games = await cli(['games']);
  assert.equal(games.code, 0);
  for (const id of ['valheim', 'rust', 'ark', 'asa', '7dtd', 'palworld', 'enshrouded', 'satisfactory', 'pzomboid', 'minecraft']) assert.match(games.stdout, new RegExp(`^${id} `, 'm'));
});

test('config check: ok exits 0; a bad config exits 3 naming the file and key', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const good = path.join(dir, 'agent.yaml');
    await writeFile(good, 'id: box-1\nhub:\n  url: ws://127.0.0.1:7780/agent\n  token: rsa_0123456789abcdefghij\nservers:\n  - id: vh\n    game: valheim\n    gamePort: 2456\n');
    const ok = await cli(['config', 'check', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ok: agent config .* 1 server\(s\): vh \(valheim, watch only\)/);
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'id: box-1\nhub:\n  url: ws://127.0.0.1:7780/agent\n  token: rsa_0123456789abcdefghij\nservers:\n  - id: vh\n    game: valheimm\n');
    const res = await cli(['config', 'check', bad]);
    assert.equal(res.code, 3);
    assert.ok(res.stderr.includes(bad), res.stderr);
    assert.match(res.stderr, /servers\[vh\]\.game: unknown game "valheimm" \(did you mean "valheim"\?\)/);
  } finally {
    await cleanup();
  }
});

test('config schema writes JSON Schema files; agent service install --dry-run plans a hardened unit without touching the system', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const out = path.join(dir, 'schemas');
    const schema = await cli(['config', 'schema', '--out', out]);
    assert.equal(schema.code, 0, schema.stderr);
    for (const name of ['hub.schema.json', 'agent.schema.json', 'game-profile.schema.json']) {
      const parsed = JSON.parse(await readFile(path.join(out, name), 'utf8')) as { properties?: Record<string, unknown> };
      assert.ok(parsed.properties && Object.keys(parsed.properties).length > 2, name);
    }
    const agentYaml = path.join(dir, 'agent.yaml');
    await writeFile(agentYaml, `id: box-1\nhub:\n  url: ws://127.0.0.1:7780/agent\n  token: rsa_0123456789abcdefghij\ndataDir: ./data\nservers:\n  - id: vh\n    game: valheim\n    saveDir: ./worlds\n`);
    const plan = await cli(['agent', 'service', 'install', '--config', agentYaml, '--dry-run']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^Would run:/);
    assert.match(plan.stdout, /write \/etc\/systemd\/system\/reconsync-agent\.service/);
    assert.match(plan.stdout, /systemctl enable reconsync-agent\.service/);
    const bad = await cli(['agent', 'service', 'frob', '--config', agentYaml]);
    assert.equal(bad.code, 2);
  } finally {
    await cleanup();
  }
});

test('token create, hub and agent as separate processes: connected, survives a hub restart, dropped on revoke', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  const children: ChildProcess[] = [];
  try {
    const port = await freeTcpPort();
    const hubYaml = path.join(dir, 'hub.yaml');
    await writeFile(hubYaml, `listen:\n  host: 127.0.0.1\n  port: ${port}\ndataDir: ./hub-data\napi:\n  token: \${RECONSYNC_API_TOKEN}\n`);
    // token create needs no secrets in the environment.
    const created = await cli(['token', 'create', 'box-1', '--config', hubYaml]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim().split('\n').at(-1)!;
    assert.match(token, /^rsa_[A-Za-z0-9_-]{40,}$/);

    const agentYaml = path.join(dir, 'agent.yaml');
    await writeFile(agentYaml, `id: box-1\nhub:\n  url: ws://127.0.0.1:${port}/agent\n  token: \${RECONSYNC_AGENT_TOKEN}\ndataDir: ./agent-data\nservers:\n  - id: vh\n    game: valheim\n    gamePort: ${await freeTcpPort()}\n`);
    const env = { RECONSYNC_API_TOKEN: API_TOKEN, RECONSYNC_AGENT_TOKEN: token };
    let hub = start(['hub', '--config', hubYaml], env);
    children.push(hub);
    const agent = start(['agent', '--config', agentYaml], env);
    children.push(agent);

    await waitFor(async () => (await agents(port)).find((a) => a.id === 'box-1' && a.connected), 30_000, 'agent connected');
    const [row] = await agents(port);
    assert.deepEqual(row!.servers, ['vh']);

    // Kill the hub; a new one on the same port gets the agent back by itself.
    assert.equal(await stopProcess(hub), 0);
    hub = start(['hub', '--config', hubYaml], env);
    children.push(hub);
    await waitFor(async () => (await agents(port)).find((a) => a.id === 'box-1' && a.connected), 30_000, 'agent back after hub restart');

    // Revoke from another process: the running hub drops the session (4001) and the agent stops for good.
    const revoked = await cli(['token', 'revoke', 'box-1', '--config', hubYaml]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const [agentExit] = (await Promise.race([once(agent, 'exit'), new Promise((_r, rej) => setTimeout(() => rej(new Error('agent did not stop after revoke')), 15_000))])) as [number];
    assert.equal(agentExit, 1, 'a revoked agent exits non-zero for its service manager');
    assert.equal((await agents(port)).find((a) => a.id === 'box-1')?.connected, false);
  } finally {
    for (const c of children) await stopProcess(c, 'SIGKILL');
    await cleanup();
  }
});
