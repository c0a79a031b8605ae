import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseYamlConfig } from '../../lib/config-file.ts';
import { HubConfigSchema } from '../../hub/config.ts';

// Docker cannot run here: these read the Dockerfile the way a reviewer would, and run
// the parts that can run without Docker (the healthcheck command, the baked-in config).
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Instruction { op: string; args: string }

/** Dockerfile instructions with line continuations joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  return joined.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [op = '', ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  });
}

function stages(ins: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const i of ins) {
    if (i.op === 'FROM') out.push([]);
    out.at(-1)?.push(i);
  }
  return out;
}

test('Dockerfile: multi-stage on node:20-bookworm-slim, non-root runtime, volume, port, healthcheck, hub command', async () => {
  const ins = instructions(await readFile(path.join(repo, 'deploy/Dockerfile'), 'utf8'));
  const all = stages(ins);
  assert.equal(all.length, 2, 'a build stage and a runtime stage');
  const [build, runtime] = all as [Instruction[], Instruction[]];
  assert.match(ins.find((i) => i.op === 'ARG')!.args, /^NODE_IMAGE=node:20-bookworm-slim$/);
  assert.match(build[0]!.args, /^\$\{NODE_IMAGE\} AS build$/);
  assert.match(runtime[0]!.args, /^\$\{NODE_IMAGE\} AS runtime$/);
  assert.ok(build.some((i) => i.op === 'RUN' && /python3 make g\+\+/.test(i.args)), 'build stage has a compiler for better-sqlite3');
  assert.ok(build.some((i) => i.op === 'RUN' && /npm ci --omit=dev/.test(i.args)));
  assert.ok(!runtime.some((i) => i.op === 'RUN' && /g\+\+/.test(i.args)), 'no compiler in the runtime image');
  assert.ok(runtime.some((i) => i.op === 'COPY' && /--from=build/.test(i.args)));

  const users = runtime.filter((i) => i.op === 'USER');
  assert.equal(users.length, 1);
  const argUid = runtime.find((i) => i.op === 'ARG' && i.args.startsWith('RECONSYNC_UID='))!.args.split('=')[1];
  const user = users[0]!.args.replace(/\$\{RECONSYNC_UID\}/g, argUid!);
  assert.doesNotMatch(user, /^(root|0)(:|$)/, 'runtime must not run as root');
  assert.ok(Number(user.split(':')[0]) >= 1000);
  // USER comes after every RUN that needs root.
  assert.ok(runtime.indexOf(users[0]!) > Math.max(...runtime.filter((i) => i.op === 'RUN').map((i) => runtime.indexOf(i))));

  assert.ok(runtime.some((i) => i.op === 'VOLUME' && i.args === '/data'));
  assert.ok(runtime.some((i) => i.op === 'EXPOSE' && i.args === '7780'));
  const hc = runtime.find((i) => i.op === 'HEALTHCHECK');
  assert.ok(hc, 'HEALTHCHECK present');
  assert.doesNotMatch(hc.args, /curl|wget/, 'slim has neither');
  assert.match(runtime.find((i) => i.op === 'ENV' && i.args.startsWith('HEALTHCHECK_URL='))!.args, /^HEALTHCHECK_URL=http:\/\/127\.0\.0\.1:7780\/healthz$/);
  assert.equal(runtime.at(-1)!.op, 'CMD');
  assert.deepEqual(JSON.parse(runtime.at(-1)!.args), ['reconsync', 'hub', '--config', '/etc/reconsync/hub.yaml']);
});

test('the HEALTHCHECK command passes on 200 from /healthz and fails on 503 or no answer', async (t) => {
  const ins = instructions(await readFile(path.join(repo, 'deploy/Dockerfile'), 'utf8'));
  const hc = ins.find((i) => i.op === 'HEALTHCHECK')!.args;
  const cmd = hc.slice(hc.indexOf('CMD ') + 4);
  let status = 200;
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
  const check = (u: string) => new Promise<number>((resolve) => {
    execFile('/bin/sh', ['-c', cmd], { env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`, HEALTHCHECK_URL: u }, timeout: 20_000 }, (err) => resolve(err ? (typeof err.code === 'number' ? err.code : 1) : 0));
  });
  assert.equal(await check(url), 0);
  status = 503;
  assert.equal(await check(url), 1);
  assert.deepEqual(seen, ['/healthz', '/healthz']);
  server.close();
  await once(server, 'close');
  assert.equal(await check(url), 1, 'nothing listening');
});

test('the image config and compose file are consistent with the Dockerfile', async () => {
  const text = await readFile(path.join(repo, 'deploy/docker/hub.yaml'), 'utf8');
  const cfg = parseYamlConfig(text, '/etc/reconsync/hub.yaml', HubConfigSchema, { env: { RECONSYNC_API_TOKEN: 't'.repeat(32) } });
  assert.equal(cfg.dataDir, '/data');
  assert.deepEqual([cfg.listen.host, cfg.listen.port], ['0.0.0.0', 7780]);
  assert.equal(cfg.discord, undefined);
  assert.throws(() => parseYamlConfig(text, '/etc/reconsync/hub.yaml', HubConfigSchema, { env: {} }), /RECONSYNC_API_TOKEN is not set/);

  const compose = parse(await readFile(path.join(repo, 'deploy/compose.yaml'), 'utf8')) as {
    services: { hub: { build: { context: string; dockerfile: string }; ports: string[]; volumes: string[]; environment: Record<string, string>; read_only: boolean; tmpfs: string[] } };
    volumes: Record<string, unknown>;
  };
  const hub = compose.services.hub;
  const context = path.resolve(repo, 'deploy', hub.build.context);
  assert.equal(context, repo);
  assert.ok(existsSync(path.join(context, hub.build.dockerfile)));
  assert.deepEqual(hub.ports, ['7780:7780']);
  assert.ok(hub.volumes.includes('hub-data:/data'));
  assert.ok('hub-data' in compose.volumes);
  assert.match(hub.environment.RECONSYNC_API_TOKEN!, /^\$\{RECONSYNC_API_TOKEN:\?/);
  assert.equal(hub.read_only, true);
  assert.ok(hub.tmpfs.includes('/tmp'), 'tsx compiles into /tmp');
});

test('every hub.yaml the container can run keeps its store in the volume: the image default and a mounted examples/hub.yaml', async () => {
  // The read-only container writes only its volume (and /tmp): a dataDir anywhere else fails at the first write.
  const runtime = stages(instructions(await readFile(path.join(repo, 'deploy/Dockerfile'), 'utf8')))[1]!;
  const volume = runtime.find((i) => i.op === 'VOLUME')!.args;
  const imageEnv = Object.fromEntries(runtime.filter((i) => i.op === 'ENV').map((i) => i.args.split('=', 2) as [string, string]));
  const composeText = await readFile(path.join(repo, 'deploy/compose.yaml'), 'utf8');
  const compose = parse(composeText) as { services: { hub: { volumes: string[]; environment: Record<string, string> } } };
  const mounts = compose.services.hub.volumes.map((v) => v.split(':')[1]!);
  assert.ok(mounts.includes(volume), `compose mounts the image's VOLUME ${volume}`);
  // The mount the compose file tells an operator to uncomment for Discord.
  const suggested = /#\s*-\s*(\.\/\S+?):\/etc\/reconsync\/hub\.yaml:ro/.exec(composeText);
  assert.ok(suggested, 'compose.yaml shows how to mount a hub.yaml with Discord');
  const env = { ...imageEnv, RECONSYNC_API_TOKEN: 't'.repeat(32), DISCORD_TOKEN: 'discord-token' };
  for (const file of [path.resolve(repo, 'deploy', suggested[1]!), path.join(repo, 'deploy/docker/hub.yaml')]) {
    const cfg = parseYamlConfig(await readFile(file, 'utf8'), '/etc/reconsync/hub.yaml', HubConfigSchema, { env });
    assert.ok(cfg.dataDir === volume || cfg.dataDir.startsWith(`${volume}/`), `${path.relative(repo, file)}: dataDir ${cfg.dataDir} is outside the volume ${volume}`);
  }
});

test('.dockerignore keeps what the Dockerfile copies and drops the rest', async () => {
  const ignore = (await readFile(path.join(repo, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const must of ['node_modules', '.git', 'test', 'dist']) assert.ok(ignore.includes(must), must);
  const copied = ['package.json', 'package-lock.json', 'bin', 'cli', 'hub', 'agent', 'protocol', 'lib', 'games', 'tools', 'sim', 'deploy', 'deploy/docker'];
  for (const p of copied) assert.ok(!ignore.some((rule) => rule === p || rule === `${p}/`), `${p} must reach the build context`);
});
