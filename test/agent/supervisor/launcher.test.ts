import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createPlatform } from '../../../agent/platform.ts';
import { ProcessLauncher, launcherPaths } from '../../../agent/supervisor/launcher.ts';
import { rotateIfLarge } from '../../../agent/supervisor/process-log.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { makeSandbox, makeServer, waitGameUp, type Sandbox } from './helpers.ts';

const platform = createPlatform({ os: 'linux' });

describe('ProcessLauncher', () => {
  let box: Sandbox;
  const pids: number[] = [];

  beforeEach(async () => {
    box = await makeSandbox();
  });
  afterEach(async () => {
    for (const pid of pids.splice(0)) await platform.hardKill(pid);
    await box.cleanup();
  });

  test('spawn: output goes to the server log, a pid file exists while it runs, the exit carries code and signal', async () => {
    const launcher = new ProcessLauncher({ platform, dataDir: box.dataDir });
    const server = makeServer(box);
    const h = await launcher.spawn(server);
    pids.push(h.pid);
    assert.equal(h.adopted, false);
    assert.equal(h.origin, 'spawned');
    const { log, pidFile } = launcherPaths(box.dataDir, server.id);
    // "<pid> <start time>": the start time guards the next agent's adoption against a reused pid.
    assert.equal((await readFile(pidFile, 'utf8')).trim(), `${h.pid} ${platform.processStartTime(h.pid)}`);
    await waitGameUp(box.gameDir);
    assert.equal(h.isAlive(), true);

    process.kill(h.pid, 'SIGTERM');
    assert.deepEqual(await h.exited, { code: null, signal: 'SIGTERM' });
    assert.equal(h.isAlive(), false);
    assert.match(await readFile(log, 'utf8'), /^--- reconsync .*: starting .*game-.*\.mjs/);
    const deadline = Date.now() + 5000;
    while (existsSync(pidFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(existsSync(pidFile), false, 'pid file removed after the exit');
  });

  test('spawn: stdout and stderr both land in the log; exit code is reported', async () => {
    const launcher = new ProcessLauncher({ platform, dataDir: box.dataDir });
    const server = makeServer(box);
    server.start!.args = ['-e', 'console.log("hello out"); console.error("hello err"); process.exit(7)'];
    const h = await launcher.spawn(server);
    assert.deepEqual(await h.exited, { code: 7, signal: null });
    const text = await readFile(launcherPaths(box.dataDir, server.id).log, 'utf8');
    assert.match(text, /hello out\n/);
    assert.match(text, /hello err\n/);
  });

  test('spawn of a missing binary rejects with a message naming it', async () => {
    const launcher = new ProcessLauncher({ platform, dataDir: box.dataDir });
    const server = makeServer(box);
    server.start!.command = path.join(box.dir, 'no-such-server.x86_64');
    await assert.rejects(launcher.spawn(server), (e: unknown) => e instanceof ReconSyncError && /no-such-server\.x86_64: .*ENOENT/.test(e.message));
  });

  test('adopt: by configured pid file, by process name, or nothing; liveness is polled', async () => {
    const launcher = new ProcessLauncher({ platform, dataDir: box.dataDir, adoptPollMs: 20 });
    const child = spawn(process.execPath, [box.script, box.gameDir], { stdio: 'ignore', detached: true });
    await once(child, 'spawn');
    pids.push(child.pid!);
    await waitGameUp(box.gameDir);

    assert.equal(await launcher.adopt(makeServer(box, { managed: false })), null, 'no pid file, no names');

    const pidFile = path.join(box.dir, 'game.pid');
    await writeFile(pidFile, `${child.pid}\n`);
    const byFile = await launcher.adopt(makeServer(box, { managed: false, config: { adopt: { pidFile } } }));
    assert.equal(byFile?.pid, child.pid);
    assert.equal(byFile?.origin, `pid file ${pidFile}`);
    byFile?.release();

    const byName = await launcher.adopt(makeServer(box, { managed: false, processNames: [box.scriptName] }));
    assert.equal(byName?.pid, child.pid);
    assert.equal(byName?.origin, `process name ${box.scriptName}`);
    assert.equal(byName?.adopted, true);

    process.kill(child.pid!, 'SIGKILL');
    assert.deepEqual(await byName!.exited, { code: null, signal: null });
    assert.equal(byName!.isAlive(), false);
  });

  test('adopt by name for a managed server never guesses: no generic runtimes, no pick among several', async () => {
    const launcher = new ProcessLauncher({ platform, dataDir: box.dataDir });
    const two = [0, 1].map(() => spawn(process.execPath, [box.script, box.gameDir], { stdio: 'ignore' }));
    await Promise.all(two.map((c) => once(c, 'spawn')));
    pids.push(...two.map((c) => c.pid!));
    const names = [box.scriptName];
    assert.equal(await launcher.adopt(makeServer(box, { managed: true, processNames: names })), null, 'managed: two matches, none adopted');
    const watched = await launcher.adopt(makeServer(box, { managed: false, processNames: names }));
    assert.equal(watched?.pid, Math.min(two[0]!.pid!, two[1]!.pid!), 'watch-only: the first one');
    watched?.release();
    two[1]!.kill('SIGKILL');
    await once(two[1]!, 'exit');
    assert.equal((await launcher.adopt(makeServer(box, { managed: true, processNames: names })))?.pid, two[0]!.pid, 'managed: exactly one match');
    assert.equal(await launcher.adopt(makeServer(box, { managed: true, processNames: ['node'] })), null, 'managed: "node" says nothing about the game');
    const explicit = await launcher.adopt(makeServer(box, { managed: true, config: { adopt: { processName: box.scriptName } } }));
    assert.equal(explicit?.pid, two[0]!.pid);
  });

  test('adopt ignores a stale own pid file whose pid is now something else', async () => {
    const launcher = new ProcessLauncher({ platform, dataDir: box.dataDir });
    const server = makeServer(box, { processNames: [box.scriptName] });
    const { pidFile } = launcherPaths(box.dataDir, server.id);
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await once(other, 'spawn');
    pids.push(other.pid!);
    await mkdir(path.dirname(pidFile), { recursive: true });
    await writeFile(pidFile, `${other.pid}\n`); // alive, but not the game (pid reused)
    const serverX = { ...server, start: { ...server.start!, command: '/opt/game/server.x86_64' } };
    assert.equal(await launcher.adopt(serverX), null);
    // The same pid file naming a process that does look like the game is adopted.
    assert.equal((await launcher.adopt({ ...serverX, processNames: ['node'] }))?.origin, `pid file ${pidFile}`);
  });

  test('adopt ignores an own pid file whose recorded start time is not the running process\'s (pid reused after a crash)', async () => {
    const launcher = new ProcessLauncher({ platform, dataDir: box.dataDir });
    const server = makeServer(box, { processNames: [box.scriptName] });
    const { pidFile } = launcherPaths(box.dataDir, server.id);
    // The start command is node itself, so by its name this process passes for the game: only the start time tells.
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await once(other, 'spawn');
    pids.push(other.pid!);
    await mkdir(path.dirname(pidFile), { recursive: true });
    await writeFile(pidFile, `${other.pid} 1\n`);
    assert.equal(await launcher.adopt(server), null, 'another process with the game\'s old pid is not adopted');
    await writeFile(pidFile, `${other.pid} ${platform.processStartTime(other.pid!)}\n`);
    const same = await launcher.adopt(server);
    assert.equal(same?.pid, other.pid, 'the recorded start time matches: adopted');
    same?.release();
  });

  test('a running log is rotated by copy + truncate; the game keeps appending at the start of the fresh file', async () => {
    const clock = new FakeClock();
    const launcher = new ProcessLauncher({ platform, dataDir: box.dataDir, clock, logCheckMs: 1000, logRotation: { maxBytes: 1000, keep: 2 } });
    const server = makeServer(box);
    // Writes 5 kB at once, then one line per SIGUSR2.
    server.start!.args = ['-e', 'process.stdout.write("x".repeat(5000) + "\\n"); process.on("SIGUSR2", () => process.stdout.write("after\\n")); setInterval(() => {}, 1000)'];
    const h = await launcher.spawn(server);
    pids.push(h.pid);
    const { log } = launcherPaths(box.dataDir, server.id);
    const deadline = Date.now() + 5000;
    while ((await stat(log)).size < 5000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));

    await clock.sleeping(AbortSignal.timeout(5000));
    await clock.advance(1000);
    while ((await stat(log)).size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await stat(log)).size, 0);
    assert.match(await readFile(`${log}.1`, 'utf8'), /x{5000}/);

    process.kill(h.pid, 'SIGUSR2');
    while ((await stat(log)).size === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await readFile(log, 'utf8'), 'after\n', 'O_APPEND: no hole of zeros before the new line');
  });
});

test('rotateIfLarge: rename mode shifts old files and keeps `keep` of them', async () => {
  const box = await makeSandbox();
  try {
    const log = path.join(box.dir, 's.log');
    const rotation = { maxBytes: 3, keep: 2 };
    assert.equal(await rotateIfLarge(log, rotation, 'rename'), false, 'missing file');
    for (const content of ['first', 'second', 'third']) {
      await writeFile(log, content);
      assert.equal(await rotateIfLarge(log, rotation, 'rename'), true);
    }
    assert.equal(existsSync(log), false);
    assert.equal(await readFile(`${log}.1`, 'utf8'), 'third');
    assert.equal(await readFile(`${log}.2`, 'utf8'), 'second');
    assert.equal(existsSync(`${log}.3`), false);
    await writeFile(log, 'ab');
    assert.equal(await rotateIfLarge(log, rotation, 'rename'), false, 'under the limit');
  } finally {
    await box.cleanup();
  }
});
