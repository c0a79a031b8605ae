// Issue 10 §11: `config check` runs every check the agent runs at start and reports every
// problem in one run, servers named by id, with the near miss for typos; the agent refuses
// (exit 3) exactly what the check reports. Both through the real CLI process.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../support/stack.ts';


const cli = (args: string[]) => runCli(args);

const problemLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('  - '));

const header = (dir: string) => `id: box-1
hub: { url: "ws://127.0.0.1:9/agent", token: rsa_0123456789abcdefghij }
dataDir: ./data
rclone: { config: ./rclone.conf }
servers:
  - id: valheim-main
    game: valheimm
    gamePort: 2456
    saveDir: ${path.join(dir, 'valheim')}
  - id: ark-island
    game: ark
    gamport: 7777
    saveDir: ${path.join(dir, 'ark')}
    backup:
      schedule: "every 4 hours"
      destinations: [local, "mybackup:ark"]
`;

test('four mistakes in one file: all reported in one run with id-based keys and suggestions, exit 3; the agent refuses the same file', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tempDir('reconsync-check-');
  try {
    await writeFile(path.join(dir, 'rclone.conf'), '[mybackups]\ntype = local\n');
    const file = path.join(dir, 'agent.yaml');
    await writeFile(file, header(dir));
    const res = await cli(['config', 'check', file]);
    assert.equal(res.code, 3, res.stderr);
    const lines = problemLines(res.stderr);
    assert.equal(lines.length, 4, res.stderr);
    const text = lines.join('\n');
    assert.match(text, /servers\[ark-island\]\.gamport: unknown key \(did you mean "gamePort"\?\)/);
    assert.match(text, /servers\[valheim-main\]\.game: unknown game "valheimm" \(did you mean "valheim"\?\)/);
    assert.match(text, /servers\[ark-island\]\.backup\.schedule: "every 4 hours" is not a cron expression .*"0 \*\/4 \* \* \*"/);
    assert.match(text, /servers\[ark-island\]\.backup\.destinations\[1\]: rclone remote "mybackup" is not defined in rclone\.config .*\(did you mean "mybackups"\?\)/);

    const agent = await cli(['agent', '--config', file]);
    assert.equal(agent.code, 3, `the agent must refuse to start: ${agent.stderr}`);
    assert.deepEqual(problemLines(agent.stderr), lines, 'the agent reports exactly what config check reports');
  } finally {
    await cleanup();
  }
});

test('a bad schedule alone fails config check and the agent start (exit 3)', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tempDir('reconsync-check-');
  try {
    const file = path.join(dir, 'agent.yaml');
    await writeFile(file, `id: box-1\nhub: { url: "ws://127.0.0.1:9/agent", token: rsa_0123456789abcdefghij }\nservers:\n  - id: vh\n    game: valheim\n    saveDir: ./w\n    backup: { schedule: "every 4 hours" }\n`);
    for (const args of [['config', 'check', file], ['agent', '--config', file]]) {
      const res = await cli(args);
      assert.equal(res.code, 3, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /servers\[vh\]\.backup\.schedule: "every 4 hours" is not a cron expression/);
    }
  } finally {
    await cleanup();
  }
});

test('a folder destination needs no rclone; a remote one names the missing binary', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir('reconsync-check-');
  try {
    const file = path.join(dir, 'agent.yaml');
    const yaml = (dest: string) => `id: box-1\nhub: { url: "ws://127.0.0.1:9/agent", token: rsa_0123456789abcdefghij }\nrclone: { binary: ${path.join(dir, 'no-rclone')} }\nservers:\n  - id: vh\n    game: valheim\n    saveDir: ./w\n    backup: { destinations: [local, "${dest}"] }\n`;
    await writeFile(file, yaml(path.join(dir, 'vault')));
    const ok = await cli(['config', 'check', file]);
    assert.equal(ok.code, 0, ok.stderr);
    await writeFile(file, yaml('b2:bucket/vh'));
    const bad = await cli(['config', 'check', file]);
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /rclone\.binary: ".*no-rclone" not found, needed by servers\[vh\]\.backup\.destinations\[1\] \(b2:bucket\/vh\)/);
  } finally {
    await cleanup();
  }
});

test('servers with update: need SteamCMD; a missing program is reported, an executable one passes', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir('reconsync-check-');
  try {
    const file = path.join(dir, 'agent.yaml');
    const yaml = (program: string) => `id: box-1\nhub: { url: "ws://127.0.0.1:9/agent", token: rsa_0123456789abcdefghij }\nsteamcmd: { path: ${program} }\nservers:\n  - id: vh\n    game: valheim\n    installDir: ./vh\n    saveDir: ./w\n    update: { policy: notify }\n`;
    await writeFile(file, yaml('./no-steamcmd.sh'));
    const bad = await cli(['config', 'check', file]);
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /steamcmd\.path: ".*no-steamcmd\.sh" does not exist or is not executable, needed by servers\[vh\]\.update/);
    await writeFile(path.join(dir, 'steamcmd.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    await writeFile(file, yaml('./steamcmd.sh'));
    const ok = await cli(['config', 'check', file]);
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await cleanup();
  }
});

test('a restic destination needs restic: a missing program is reported, the installed one passes; the password stays out of the report', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir('reconsync-check-');
  try {
    const file = path.join(dir, 'agent.yaml');
    const yaml = (program: string) => `id: box-1\nhub: { url: "ws://127.0.0.1:9/agent", token: rsa_0123456789abcdefghij }\nrestic: { path: ${program} }\nservers:\n  - id: vh\n    game: valheim\n    saveDir: ./w\n    backup: { destinations: [local, { restic: ./repo, password: "s3cret-restic-pw" }] }\n`;
    await writeFile(file, yaml('./no-restic'));
    const bad = await cli(['config', 'check', file]);
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /restic\.path: ".*no-restic" does not exist or is not executable, needed by servers\[vh\]\.backup\.destinations/);
    assert.doesNotMatch(bad.stderr + bad.stdout, /s3cret-restic-pw/);
    await writeFile(file, yaml('restic, check: "every sunday"'));
    const badCron = await cli(['config', 'check', file]);
    assert.equal(badCron.code, 3, badCron.stderr);
    assert.match(badCron.stderr, /restic\.check: "every sunday" is not a cron expression/);
    await writeFile(file, yaml('restic'));
    const ok = await cli(['config', 'check', file]);
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    await cleanup();
  }
});

test('hub config: every problem at once, unknown keys with the near miss', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir('reconsync-check-');
  try {
    const file = path.join(dir, 'hub.yaml');
    await writeFile(file, 'lisen: { port: 7780 }\napi: { token: short }\ndiscord: { token: x, applicationId: "1", rolse: {} }\n');
    const res = await cli(['config', 'check', file]);
    assert.equal(res.code, 3, res.stderr);
    const text = problemLines(res.stderr).join('\n');
    assert.match(text, /lisen: unknown key \(did you mean "listen"\?\)/);
    assert.match(text, /api\.token: at least 16 characters/);
    assert.match(text, /discord\.rolse: unknown key \(did you mean "roles"\?\)/);

    // Files the hub opens at start are checked too, and the hub refuses the same file.
    const tls = path.join(dir, 'hub-tls.yaml');
    await writeFile(tls, 'listen: { host: 127.0.0.1, port: 0, tls: { cert: ./missing-cert.pem, key: ./missing-key.pem } }\ndataDir: ./hub-data\napi: { token: 0123456789abcdef0123 }\n');
    for (const args of [['config', 'check', tls], ['hub', '--config', tls]]) {
      const r = await cli(args);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /listen\.tls\.cert: cannot read ".*missing-cert\.pem" \(ENOENT\)/);
      assert.match(r.stderr, /listen\.tls\.key: cannot read ".*missing-key\.pem" \(ENOENT\)/);
    }
  } finally {
    await cleanup();
  }
});

test('restart.schedule is checked like backup.schedule, and only on a managed server (exit 3 from config check and the agent)', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tempDir('reconsync-check-');
  try {
    const file = path.join(dir, 'agent.yaml');
    await writeFile(file, `id: box-1\nhub: { url: "ws://127.0.0.1:9/agent", token: rsa_0123456789abcdefghij }\nservers:\n  - id: vh\n    game: valheim\n    saveDir: ./w\n    restart: { schedule: "daily at 5", timezone: Mars/Olympus }\n`);
    for (const args of [['config', 'check', file], ['agent', '--config', file]]) {
      const res = await cli(args);
      assert.equal(res.code, 3, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /servers\[vh\]\.restart\.timezone: "Mars\/Olympus" is not an IANA time zone/);
      assert.match(res.stderr, /servers\[vh\]\.restart\.schedule: "daily at 5" is not a cron expression .*"0 5 \* \* \*"/);
      assert.match(res.stderr, /servers\[vh\]\.restart\.schedule: only a managed server/);
    }
  } finally {
    await cleanup();
  }
});
