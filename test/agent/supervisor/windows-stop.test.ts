import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { launcherPaths } from '../../../agent/supervisor/launcher.ts';
import { createPlatform, type CommandRunner } from '../../../agent/platform.ts';
import { parseWindowsCommandLine } from '../windows-cmdline-oracle.ts';
import { Supervisor } from '../../../agent/supervisor/supervisor.ts';
import { LineAdmin, UdpPingProbe, makeSandbox, makeServer, readCommands, waitGameUp, waitState, type Sandbox, memoryLogger } from './helpers.ts';

/**
 * The Windows stop path, run on Linux: the platform is the Windows branch with
 * an injected command runner that records the exact command lines and carries
 * out taskkill (SIGKILL) and the service wrapper's modes on a real child: --launch
 * (the command line split by the MSVC rules, started detached with the given env,
 * output to the log) and --ctrl-c (SIGINT to that one game).
 */
describe('Supervisor stop on Windows (injected platform)', () => {
  let box: Sandbox;
  let sup: Supervisor | null = null;
  let logs: ReturnType<typeof memoryLogger>;
  let calls: Array<[string, string[]]>;

  const run: CommandRunner = async (file, args, o) => {
    calls.push([file, [...args]]);
    if (file === 'taskkill') {
      process.kill(Number(args[1]), 'SIGKILL');
      return { exitCode: 0, stdout: `SUCCESS: The process with PID ${args[1]} has been terminated.\r\n`, stderr: '' };
    }
    if (file === 'tasklist') {
      return { exitCode: 0, stdout: '"System Idle Process","0","Services","0","8 K"\r\n"explorer.exe","4242","Console","1","120,312 K"\r\n', stderr: '' };
    }
    if (file === 'C:\\reconsync\\ReconSyncAgent.exe' && args[0] === '--ctrl-c') {
      process.kill(Number(args[1]), 'SIGINT');
      return { exitCode: 0, stdout: '', stderr: '' };
    }
    if (file === 'C:\\reconsync\\ReconSyncAgent.exe' && args[0] === '--launch') {
      const [command, ...rest] = parseWindowsCommandLine(args[6]!);
      const out = openSync(args[2]!, 'a');
      const game = spawn(command!, rest, { cwd: args[4], env: o?.env, detached: true, stdio: ['ignore', out, out] });
      closeSync(out);
      game.unref();
      return { exitCode: 0, stdout: `${game.pid} 1\r\n`, stderr: '' };
    }
    return { exitCode: 1, stdout: '', stderr: 'unexpected command' };
  };

  beforeEach(async () => {
    box = await makeSandbox();
    logs = memoryLogger();
    calls = [];
  });
  afterEach(async () => {
    await sup?.close();
    sup = null;
    assert.deepEqual(logs.errors(), [], 'no supervisor errors logged');
    await box.cleanup();
  });

  async function runningOn(platformOpts: { windowsHelper?: string }, withAdmin: boolean): Promise<Supervisor> {
    const platform = createPlatform({ os: 'windows', run, env: { USERPROFILE: 'C:\\Users\\game' }, ...platformOpts });
    sup = new Supervisor({
      server: makeServer(box, { platform: 'windows', processNames: ['game.exe'] }),
      probe: new UdpPingProbe(box.gameDir),
      admin: withAdmin ? new LineAdmin(box.gameDir) : null,
      platform,
      dataDir: box.dataDir,
      logger: logs.logger,
    });
    await sup.open();
    await sup.start();
    await waitState(sup, 'running');
    return sup;
  }

  test('no admin channel, no console helper: hard stop only, said clearly, via taskkill /T /F — never a signal', async () => {
    const s = await runningOn({}, false);
    const { pid } = await waitGameUp(box.gameDir);
    const out = await s.stop();
    assert.equal(out.graceful, false);
    assert.match(out.message, /^hard stop only: Test Game has no admin channel on Windows/);
    assert.equal(s.state, 'stopped');
    assert.match(s.status().message ?? '', /hard stop only/);
    assert.deepEqual(calls, [
      ['tasklist', ['/FO', 'CSV', '/NH']],
      ['taskkill', ['/PID', String(pid), '/T', '/F']],
    ]);
    assert.deepEqual(await readCommands(box.gameDir), [], 'the game never got SIGINT');
  });

  test('with an admin channel: save + stop over it, no taskkill', async () => {
    const s = await runningOn({}, true);
    const out = await s.stop();
    assert.deepEqual(out, { graceful: true, message: 'stopped via telnet (save + stop)' });
    assert.deepEqual(calls.map(([f]) => f), ['tasklist']);
    assert.deepEqual(await readCommands(box.gameDir), ['save', 'stop']);
  });

  test('under the service wrapper: launched through it, stopped gracefully with its --ctrl-c <pid>', async () => {
    const s = await runningOn({ windowsHelper: 'C:\\reconsync\\ReconSyncAgent.exe' }, false);
    const { pid } = await waitGameUp(box.gameDir);
    assert.equal(calls[1]![1][0], '--launch');
    // The pid file records the start time the wrapper reported, for the next agent's adoption.
    assert.equal(await readFile(launcherPaths(box.dataDir, 'test-1').pidFile, 'utf8'), `${pid} 1\n`);
    const out = await s.stop();
    assert.deepEqual(out, { graceful: true, message: 'stopped with Ctrl+C via console helper' });
    assert.deepEqual(calls.slice(2), [['C:\\reconsync\\ReconSyncAgent.exe', ['--ctrl-c', String(pid)]]]);
    assert.deepEqual(await readCommands(box.gameDir), ['SIGINT']);
  });
});
