import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import os from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createPlatform, parseTasklistCsv, readPidFile, type CommandRunner, type KillFn, type SyncCommandRunner } from '../../agent/platform.ts';
import { batchArgs, quoteWindowsArg, windowsCommandLine } from '../../agent/platform/windows-cmdline.ts';
import { parseWindowsCommandLine } from './windows-cmdline-oracle.ts';
import { waitFor } from '../support/wait.ts';

const children: ChildProcess[] = [];
let tmp: string | null = null;
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  tmp ??= await mkdtemp(path.join(os.tmpdir(), 'reconsync-platform-'));
  return tmp;
}

async function run(file: string, args: string[], opts: { detached?: boolean } = {}): Promise<ChildProcess> {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'inherit'], detached: opts.detached ?? false });
  children.push(child);
  await once(child, 'spawn');
  return child;
}

/** Resolves with the first stdout line of a child (its "ready" signal). */
async function firstLine(child: ChildProcess): Promise<string> {
  let buf = '';
  for await (const chunk of child.stdout!) {
    buf += String(chunk);
    if (buf.includes('\n')) return buf.slice(0, buf.indexOf('\n'));
  }
  throw new Error('no output');
}

describe('Linux platform (real processes)', () => {
  const p = createPlatform({ os: 'linux', env: { HOME: '/home/game' } });

  test('paths, dirs and spawn options', () => {
    assert.equal(p.path, path.posix);
    assert.deepEqual(p.dirs, { home: '/home/game', userProfile: '/home/game', appData: '/home/game/.config', localAppData: '/home/game/.local/share' });
    assert.equal(createPlatform({ os: 'linux', env: { HOME: '/h', XDG_CONFIG_HOME: '/cfg' } }).dirs.appData, '/cfg');
    assert.deepEqual(p.spawnOptions(), { detached: true, windowsHide: false });
    assert.equal(p.canSoftStop, true);
  });

  test('isAlive: true for a running process, false once it exited', async () => {
    assert.equal(p.isAlive(process.pid), true);
    const child = await run(process.execPath, ['-e', 'setTimeout(() => {}, 50)']);
    const pid = child.pid!;
    assert.equal(p.isAlive(pid), true);
    await once(child, 'exit');
    assert.equal(p.isAlive(pid), false);
  });

  test('findProcessByName: by script name, by a comm truncated to 15 chars, not by a stranger', async () => {
    const dir = await tempDir();
    const script = path.join(dir, 'my-game-server.mjs');
    await writeFile(script, 'console.log("up"); setInterval(() => {}, 1000);\n');
    const byScript = await run(process.execPath, [script]);
    // A binary whose name is longer than comm's 15 bytes, like valheim_server.x86_64.
    const longName = path.join(dir, 'valheim_server.x86_64');
    await symlink(process.execPath, longName);
    const byLong = await run(longName, ['-e', 'console.log("up"); setInterval(() => {}, 1000)']);
    await Promise.all([firstLine(byScript), firstLine(byLong)]);
    assert.equal((await readFile(`/proc/${byLong.pid}/comm`, 'utf8')).trim(), 'valheim_server.');

    const found = await p.findProcessByName(['my-game-server.mjs', 'valheim_server.x86_64']);
    assert.deepEqual(found.filter((f) => f.pid === byScript.pid || f.pid === byLong.pid).sort((a, b) => a.pid - b.pid),
      [{ pid: byScript.pid!, name: 'my-game-server.mjs' }, { pid: byLong.pid!, name: 'valheim_server.x86_64' }].sort((a, b) => a.pid - b.pid));
    assert.deepEqual(await p.findProcessByName(['no-such-game.x86_64']), []);
    assert.deepEqual(await p.findProcessByName([]), []);
  });

  test('softStop sends SIGINT to the process group (children included)', async () => {
    const dir = await tempDir();
    const marks = path.join(dir, 'sigint-marks');
    // A wrapper that starts a child, as start-server.sh starts java; both note SIGINT.
    const childCode = `process.on('SIGINT', () => { require('fs').appendFileSync(${JSON.stringify(marks)}, 'child\\n'); process.exit(0); }); setInterval(() => {}, 1000); console.log('ready');`;
    const wrapperCode = `
      const { spawn } = require('child_process');
      const c = spawn(process.execPath, ['-e', ${JSON.stringify(childCode)}], { stdio: ['ignore', 'pipe', 'ignore'] });
      process.on('SIGINT', () => { require('fs').appendFileSync(${JSON.stringify(marks)}, 'wrapper\\n'); c.on('exit', () => process.exit(0)); });
      c.stdout.once('data', () => console.log(c.pid));
      setInterval(() => {}, 1000);`;
    const wrapper = await run(process.execPath, ['-e', wrapperCode], { detached: true });
    const grandchild = Number(await firstLine(wrapper));
    const result = await p.softStop(wrapper.pid!);
    assert.deepEqual(result, { supported: true, message: 'SIGINT' });
    const [code] = await once(wrapper, 'exit');
    assert.equal(code, 0);
    assert.deepEqual((await readFile(marks, 'utf8')).split('\n').filter(Boolean).sort(), ['child', 'wrapper']);
    assert.equal(p.isAlive(grandchild), false);
  });

  test('hardKill kills the whole group; a process that leads no group is killed alone; a gone pid is fine', async () => {
    const wrapperCode = `
      const { spawn } = require('child_process');
      const c = spawn(process.execPath, ['-e', 'process.on("SIGINT", () => {}); setInterval(() => {}, 1000); console.log("ready")'], { stdio: ['ignore', 'pipe', 'ignore'] });
      c.stdout.once('data', () => console.log(c.pid));
      process.on('SIGINT', () => {});
      setInterval(() => {}, 1000);`;
    const leader = await run(process.execPath, ['-e', wrapperCode], { detached: true });
    const grandchild = Number(await firstLine(leader));
    await p.hardKill(leader.pid!);
    const [, signal] = await once(leader, 'exit');
    assert.equal(signal, 'SIGKILL');
    await waitFor(() => !p.isAlive(grandchild), 5000, 'the child in the group to die too');

    const plain = await run(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    await p.hardKill(plain.pid!);
    const [, sig2] = await once(plain, 'exit');
    assert.equal(sig2, 'SIGKILL');
    await p.hardKill(plain.pid!); // already gone: no throw
  });

  test('readPidFile', async () => {
    const dir = await tempDir();
    const f = path.join(dir, 'x.pid');
    await writeFile(f, '1234\n');
    assert.equal(await readPidFile(f), 1234);
    await writeFile(f, '  77 1700000000\n');
    assert.equal(await p.readPidFile(f), 77);
    await writeFile(f, 'garbage');
    assert.equal(await readPidFile(f), null);
    await writeFile(f, '0');
    assert.equal(await readPidFile(f), null);
    assert.equal(await readPidFile(path.join(dir, 'missing.pid')), null);
  });
});

describe('Windows platform (injected runner)', () => {
  function windows(opts: { runner?: CommandRunner; helper?: string; kill?: KillFn; runSync?: SyncCommandRunner; env?: Record<string, string> } = {}) {
    const calls: Array<[string, string[]]> = [];
    const envs: Array<Record<string, string> | undefined> = [];
    const killed: Array<[number, NodeJS.Signals | number | undefined]> = [];
    const runner: CommandRunner = opts.runner ?? (async () => ({ exitCode: 0, stdout: '', stderr: '' }));
    const p = createPlatform({
      os: 'windows',
      env: opts.env ?? { USERPROFILE: 'C:\\Users\\game', APPDATA: 'D:\\Roaming' },
      run: async (file, args, o) => {
        calls.push([file, [...args]]);
        envs.push(o?.env);
        return runner(file, args, o);
      },
      runSync: opts.runSync ?? (() => { throw new Error('no synchronous command expected'); }),
      kill: opts.kill ?? ((pid, sig) => {
        killed.push([pid, sig]);
        return true;
      }),
      ...(opts.helper ? { windowsHelper: opts.helper } : {}),
    });
    return { p, calls, killed, envs };
  }

  test('path.win32, dirs from the environment with defaults, spawn options', () => {
    const { p } = windows();
    assert.equal(p.path, path.win32);
    assert.deepEqual(p.dirs, { home: 'C:\\Users\\game', userProfile: 'C:\\Users\\game', appData: 'D:\\Roaming', localAppData: 'C:\\Users\\game\\AppData\\Local' });
    // Detached: out of node's job object (KILL_ON_JOB_CLOSE), so the game outlives the agent.
    assert.deepEqual(p.spawnOptions(), { detached: true, windowsHide: true });
    assert.equal(p.canSoftStop, false);
    assert.equal(p.launchGame, null, 'no wrapper, no launch through it');
    assert.equal(p.processStartTime(10), null, 'no wrapper, no start times');
  });

  test('softStop without a console helper: unsupported, and no signal is ever sent', async () => {
    const { p, calls, killed } = windows();
    const r = await p.softStop(4321);
    assert.equal(r.supported, false);
    assert.match(r.message, /no graceful signal on Windows/);
    assert.deepEqual(calls, []);
    assert.deepEqual(killed, []);
  });

  test('softStop with the wrapper runs `<wrapper> --ctrl-c <pid>`', async () => {
    const { p, calls } = windows({ helper: 'C:\\tools\\ctrlc.exe' });
    assert.equal(p.canSoftStop, true);
    assert.deepEqual(await p.softStop(4321), { supported: true, message: 'Ctrl+C via console helper' });
    assert.deepEqual(calls, [['C:\\tools\\ctrlc.exe', ['--ctrl-c', '4321']]]);
    const failing = windows({ helper: 'ctrlc.exe', runner: async () => ({ exitCode: 5, stdout: '', stderr: 'AttachConsole failed\r\n' }) });
    const r = await failing.p.softStop(1);
    assert.equal(r.supported, false);
    assert.match(r.message, /exit 5\): AttachConsole failed$/);
  });

  test('hardKill runs exactly `taskkill /PID <pid> /T /F`; not-found is fine, other failures throw', async () => {
    const { p, calls } = windows();
    await p.hardKill(4321);
    assert.deepEqual(calls, [['taskkill', ['/PID', '4321', '/T', '/F']]]);

    const gone = windows({ runner: async () => ({ exitCode: 128, stdout: '', stderr: 'ERROR: The process "4321" not found.' }) });
    await gone.p.hardKill(4321);

    const denied = windows({ runner: async () => ({ exitCode: 1, stdout: '', stderr: 'ERROR: Access is denied.\r\n' }) });
    await assert.rejects(denied.p.hardKill(4321), /taskkill \/PID 4321 failed \(exit 1\): ERROR: Access is denied\./);
  });

  test('isAlive uses signal 0 only: ESRCH = gone, EPERM = alive', () => {
    const seen: Array<NodeJS.Signals | number | undefined> = [];
    const err = (code: string) => Object.assign(new Error(code), { code });
    const alive = windows({ kill: (_pid, sig) => { seen.push(sig); return true; } });
    assert.equal(alive.p.isAlive(10), true);
    assert.equal(windows({ kill: () => { throw err('ESRCH'); } }).p.isAlive(10), false);
    assert.equal(windows({ kill: () => { throw err('EPERM'); } }).p.isAlive(10), true);
    assert.deepEqual(seen, [0]);
  });

  test('findProcessByName runs `tasklist /FO CSV /NH` and matches image names case-insensitively', async () => {
    const stdout = [
      '"System Idle Process","0","Services","0","8 K"',
      '"valheim_server.exe","5120","Console","1","1,234,567 K"',
      '"explorer.exe","4242","Console","1","120,312 K"',
      '"Valheim_Server.EXE","77","Console","1","10 K"',
      '',
    ].join('\r\n');
    const { p, calls } = windows({ runner: async () => ({ exitCode: 0, stdout, stderr: '' }) });
    assert.deepEqual(await p.findProcessByName(['valheim_server.exe']), [
      { pid: 77, name: 'Valheim_Server.EXE' },
      { pid: 5120, name: 'valheim_server.exe' },
    ]);
    assert.deepEqual(calls, [['tasklist', ['/FO', 'CSV', '/NH']]]);
    assert.deepEqual(await p.findProcessByName([]), []);
    assert.equal(calls.length, 1, 'no names, no tasklist');
  });

  test('parseTasklistCsv: quoted commas and quotes, INFO lines, junk', () => {
    assert.deepEqual(parseTasklistCsv('INFO: No tasks are running which match the specified criteria.\r\n'), []);
    assert.deepEqual(parseTasklistCsv('"a ""quoted"", name.exe","12","Console","1","1,000 K"\n"bad","x","","",""\nnot csv'), [
      { name: 'a "quoted", name.exe', pid: 12 },
    ]);
  });
});

describe('Windows game launch through the service wrapper (injected runner)', () => {
  const wrapper = 'C:\\Program Files\\ReconSync\\service\\ReconSyncAgent.exe';
  function platform(runner: CommandRunner, runSync: SyncCommandRunner = () => null) {
    const calls: Array<{ file: string; args: string[]; env: Record<string, string> | undefined }> = [];
    const p = createPlatform({
      os: 'windows',
      // Names in Windows' own casing: ComSpec is found case-insensitively.
      env: { USERPROFILE: 'C:\\Users\\svc', ComSpec: 'C:\\WINDOWS\\system32\\cmd.exe', RECONSYNC_WINDOWS_HELPER: wrapper },
      run: async (file, args, o) => {
        calls.push({ file, args: [...args], env: o?.env });
        return runner(file, args, o);
      },
      runSync,
    });
    return { p, calls };
  }

  test('the wrapper comes from RECONSYNC_WINDOWS_HELPER; launch passes the quoted command line, the log, the cwd and the cleaned env', async () => {
    const { p, calls } = platform(async () => ({ exitCode: 0, stdout: '5120 133774416000000000\r\n', stderr: '' }));
    assert.equal(p.canSoftStop, true);
    assert.ok(p.launchGame);
    const env = { PATH: 'C:\\Windows', SteamAppId: '892970' };
    const game = await p.launchGame({
      command: 'D:\\Games\\Valheim\\valheim_server.exe',
      args: ['-name', 'My "best" world', '-password', 'a b\\', '-public', '1'],
      cwd: 'D:\\Games\\Valheim', log: 'C:\\ProgramData\\ReconSync\\agent-data\\logs\\valheim.log', env,
    });
    assert.deepEqual(game, { pid: 5120, startTime: '133774416000000000' });
    assert.equal(calls.length, 1);
    const call = calls[0]!;
    assert.equal(call.file, wrapper);
    assert.deepEqual(call.args.slice(0, 6), ['--launch', '--log', 'C:\\ProgramData\\ReconSync\\agent-data\\logs\\valheim.log', '--cwd', 'D:\\Games\\Valheim', '--cmdline']);
    assert.equal(call.args[6], 'D:\\Games\\Valheim\\valheim_server.exe -name "My \\"best\\" world" -password "a b\\\\" -public 1');
    assert.deepEqual(parseWindowsCommandLine(call.args[6]!), ['D:\\Games\\Valheim\\valheim_server.exe', '-name', 'My "best" world', '-password', 'a b\\', '-public', '1']);
    assert.deepEqual(call.env, env);
  });

  test('a .bat start goes through cmd.exe /d /s /c with every special character escaped', async () => {
    const { p, calls } = platform(async () => ({ exitCode: 0, stdout: '77 1\n', stderr: '' }));
    await p.launchGame!({ command: 'C:\\Zomboid Server\\StartServer64.bat', args: ['-servername', 'a&b|c', '%PATH%', ''], cwd: 'C:\\Zomboid Server', log: 'x.log', env: {} });
    assert.equal(calls[0]!.args[6],
      'C:\\WINDOWS\\system32\\cmd.exe /d /s /c "C:\\Zomboid^ Server\\StartServer64.bat ^"-servername^" ^"a^&b^|c^" ^"^%PATH^%^" ^"^""');
    // Without the wrapper (agent run by hand), a direct spawn of the same: cmd.exe with verbatim arguments.
    const direct = createPlatform({ os: 'windows', env: { SystemRoot: 'C:\\Windows' } });
    assert.deepEqual(direct.spawnCommand('C:\\Zomboid Server\\StartServer64.bat', ['-servername', 'x']), {
      file: 'C:\\Windows\\System32\\cmd.exe', args: ['/d', '/s', '/c', '"C:\\Zomboid^ Server\\StartServer64.bat ^"-servername^" ^"x^""'], verbatim: true,
    });
    assert.deepEqual(direct.spawnCommand('D:\\Games\\game.EXE', ['a b']), { file: 'D:\\Games\\game.EXE', args: ['a b'], verbatim: false });
    // A quote inside an argument cannot survive the script's own %1/%* parsing: refused, saying why.
    assert.throws(() => batchArgs('start.cmd', ['ok', 'pass"word']), /start\.args\[1\] holds a double quote.*start\.cmd.*start\.env/);
  });

  test('a failed launch says why; start times come from `<wrapper> --start-time <pid>`', async () => {
    const failing = platform(async () => ({ exitCode: 1, stdout: '', stderr: '--launch: The system cannot find the file specified\r\n' }));
    await assert.rejects(failing.p.launchGame!({ command: 'missing.exe', args: [], cwd: 'C:\\', log: 'x.log', env: {} }), /cannot start missing\.exe \(wrapper --launch exit 1\): --launch: The system cannot find the file specified$/);
    // The wrapper could not run at all: execa's message repeats the arguments; the password must not reach the log.
    const missing = platform(async (file, args) => ({ exitCode: -1, stdout: '', stderr: `Command failed with ENOENT: ${file} ${args.join(' ')}\nspawn ENOENT` }));
    await assert.rejects(missing.p.launchGame!({ command: 'C:\\g\\game.exe', args: ['-password', 'hunter2'], cwd: 'C:\\', log: 'x.log', env: {} }), (err: Error) => {
      assert.doesNotMatch(err.message, /hunter2/);
      assert.match(err.message, /Command failed with ENOENT: .*ReconSyncAgent\.exe --launch .*<command line>/);
      return true;
    });
    const asked: Array<[string, string[]]> = [];
    const { p } = platform(async () => ({ exitCode: 0, stdout: '', stderr: '' }), (file, args) => {
      asked.push([file, [...args]]);
      return args[1] === '42' ? '133774416000000000\r\n' : null;
    });
    assert.equal(p.processStartTime(42), '133774416000000000');
    assert.equal(p.processStartTime(43), null, 'gone or not ours: unknown, never a guess');
    assert.deepEqual(asked, [[wrapper, ['--start-time', '42']], [wrapper, ['--start-time', '43']]]);
  });

  test('quoteWindowsArg round-trips through the MSVC rules', () => {
    const samples = ['', 'plain', 'a b', 'tab\there', 'quote"inside', 'trailing\\', 'C:\\Program Files\\x\\', 'back\\\\"slash', '\\\\server\\share', '"', '\\"', 'ends with space '];
    const line = samples.map(quoteWindowsArg).join(' ');
    assert.deepEqual(parseWindowsCommandLine(line), samples);
    assert.equal(windowsCommandLine('C:\\a b\\g.exe', ['x'], 'cmd.exe'), '"C:\\a b\\g.exe" x');
  });
});

test('Windows resource figures through `<wrapper> --usage <pid>`: CPU % between two samples, working set, age; a reused pid starts over', async () => {
  const { windowsUsageSampler } = await import('../../agent/platform/windows-usage.ts');
  // creation, kernel+user, working set, now: FILETIME / 100 ns units.
  const replies = [
    '132000000000000000 50000000 104857600 132000000600000000\r\n', // 60 s old, 5 s of CPU
    '132000000000000000 70000000 115343360 132000000650000000\r\n', // +5 s wall, +2 s CPU: 40 %
    '132000000900000000 10000 1024 132000000660000000\r\n', // same pid, another process
  ];
  const calls: string[][] = [];
  const sample = windowsUsageSampler('C:\\ReconSync\\service\\ReconSyncAgent.exe', async (_f, args) => {
    calls.push([...args]);
    return { exitCode: 0, stdout: replies.shift() ?? '', stderr: '' };
  }, 1000);
  const first = await sample(4242);
  assert.ok(Number.isNaN(first.cpuPercent), 'no CPU figure from one sample');
  assert.equal(first.rssBytes, 104857600);
  assert.equal(first.elapsedMs, 60_000);
  const second = await sample(4242);
  assert.equal(second.cpuPercent, 40);
  assert.equal(second.rssBytes, 115343360);
  assert.ok(Number.isNaN((await sample(4242)).cpuPercent));
  assert.deepEqual(calls[0], ['--usage', '4242']);
  await assert.rejects(sample(1), /--usage 1 failed \(exit 0\)/);
});
