import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const windowsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/windows');
const mcs = ['/usr/bin/mcs', '/usr/local/bin/mcs'].find((p) => existsSync(p));
const mono = ['/usr/bin/mono', '/usr/local/bin/mono'].find((p) => existsSync(p));

/** Every .cs file of the wrapper: install-agent.ps1 compiles them all into one exe. */
async function sources(): Promise<string[]> {
  return (await readdir(windowsDir)).filter((f) => f.endsWith('.cs')).sort().map((f) => path.join(windowsDir, f));
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

// Windows cannot run here; mono's C# compiler at C# 5 (the level of .NET Framework's
// csc.exe that install-agent.ps1 uses) catches what a reader would miss.
test('the service wrapper compiles at C# 5 and reads the XML install-agent.ps1 writes', { skip: mcs && mono ? false : 'mono-mcs is not installed (apt-get install mono-mcs mono-runtime libmono-system-xml4.0-cil)' }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-winsvc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const exe = path.join(dir, 'ReconSyncAgent.exe');
  const compiled = await run(mcs!, ['-langversion:5', '-target:exe', `-out:${exe}`, '-r:System.Xml.dll', ...(await sources())]);
  assert.equal(compiled.code, 0, compiled.stdout + compiled.stderr);

  const envFile = path.join(dir, 'agent.env');
  await writeFile(envFile, '# secrets\r\nRECONSYNC_HUB_URL=ws://127.0.0.1:7780/agent\r\nRECONSYNC_AGENT_TOKEN="abc def"\r\n\r\nnot a pair\r\n');
  // The same elements, in the same order, as install-agent.ps1's Add-Setting calls.
  await writeFile(path.join(dir, 'ReconSyncAgent.xml'), `<?xml version="1.0" encoding="utf-8"?>
<service>
  <id>ReconSyncAgent</id>
  <executable>C:\\Program Files\\nodejs\\node.exe</executable>
  <argument>C:\\Program Files\\ReconSync\\reconsync.js</argument>
  <argument>agent</argument>
  <argument>--config</argument>
  <argument>C:\\ProgramData\\ReconSync\\agent "main".yaml</argument>
  <workingdirectory>C:\\ProgramData\\ReconSync</workingdirectory>
  <logpath>C:\\ProgramData\\ReconSync\\logs</logpath>
  <logmaxbytes>10485760</logmaxbytes>
  <logkeep>5</logkeep>
  <stoptimeoutseconds>120</stoptimeoutseconds>
  <stopgamesargument>C:\\Program Files\\ReconSync\\reconsync.js</stopgamesargument>
  <stopgamesargument>agent</stopgamesargument>
  <stopgamesargument>stop-games</stopgamesargument>
  <stopgamesargument>--config</stopgamesargument>
  <stopgamesargument>C:\\ProgramData\\ReconSync\\agent.yaml</stopgamesargument>
  <stopgamestimeoutseconds>600</stopgamestimeoutseconds>
  <envfile>${envFile}</envfile>
  <env name="NODE_ENV" value="production" />
</service>
`);
  const check = await run(mono!, [exe, '--check']);
  assert.equal(check.code, 0, check.stderr);
  assert.deepEqual(check.stdout.trim().split(/\r?\n/), [
    'ReconSyncAgent',
    // CommandLineToArgvW quoting: spaces quoted, inner quotes escaped.
    '"C:\\Program Files\\nodejs\\node.exe" "C:\\Program Files\\ReconSync\\reconsync.js" agent --config "C:\\ProgramData\\ReconSync\\agent \\"main\\".yaml"',
    'host shutdown: "C:\\Program Files\\ReconSync\\reconsync.js" agent stop-games --config C:\\ProgramData\\ReconSync\\agent.yaml',
    'env: RECONSYNC_HUB_URL RECONSYNC_AGENT_TOKEN NODE_ENV',
  ]);

  // A setting the wrapper does not know is refused, not ignored.
  await writeFile(path.join(dir, 'ReconSyncAgent.xml'), '<service><executable>node.exe</executable><stoptimeout>5</stoptimeout></service>');
  const bad = await run(mono!, [exe, '--check']);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /unknown element <stoptimeout>/);
});

test('install-agent.ps1 registers recovery actions, delayed start and the compiled wrapper; uninstall deletes it', async () => {
  const install = await readFile(path.join(windowsDir, 'install-agent.ps1'), 'utf8');
  assert.match(install, /sc\.exe failure \$ServiceName reset= 86400 actions= restart\/10000\/restart\/30000\/restart\/60000/);
  assert.match(install, /start= delayed-auto/);
  assert.match(install, /Microsoft\.NET\\Framework64\\v4\.0\.30319\\csc\.exe/);
  assert.match(install, /Invoke-Native \{ & \$exe --check \}/);
  assert.match(install, /Set-StrictMode -Version 3/);
  // Every element the script writes is one the wrapper reads.
  const cs = await readFile(path.join(windowsDir, 'ReconSyncService.cs'), 'utf8');
  const written = [...install.matchAll(/Add-Setting '([a-z]+)'/g)].map((m) => m[1]!);
  assert.ok(written.length >= 8);
  for (const el of [...new Set(written), 'env']) assert.match(cs, new RegExp(`case "${el}":`), el);
  // Host shutdown: PRESHUTDOWN gets the budget, the wrapper knows the stop-games command.
  assert.match(install, /-Name PreshutdownTimeout -Type DWord -Value \(\$ShutdownTimeoutSeconds \* 1000\)/);
  assert.match(install, /@\(\$Entry, 'agent', 'stop-games', '--config', \$ConfigPath\)\) \{ Add-Setting 'stopgamesargument'/);
  // What the service runs is checked for user-writable ACLs before anything is registered.
  // A named account gets "Log on as a service" from the wrapper, and a failure stops the install.
  assert.match(install, /& \$exe --grant-service-logon \$Credential\.UserName \}\r?\n\s+if \(\$LASTEXITCODE -ne 0\) \{ Fail/);
  for (const what of ['\\$NodePath', '\\$BundleDir', '\\$ConfigDir']) assert.match(install, new RegExp(`Assert-NotUserWritable ${what} `));
  assert.ok(!/icacls\.exe[^\n]*\| Out-Null/.test(install), 'every icacls failure is surfaced');
  const uninstall = await readFile(path.join(windowsDir, 'uninstall-agent.ps1'), 'utf8');
  // The wait for the stop follows the installed stop timeout, not a fixed 150 s.
  assert.match(uninstall, /SelectSingleNode\('\/service\/stoptimeoutseconds'\)/);
  assert.match(uninstall, /sc\.exe delete \$ServiceName/);
  assert.match(uninstall, /\[switch\]\$Purge/);
});

// The SCM cannot run here, so its controls are injected: a harness drives AgentLifecycle (the
// wrapper's decisions, free of Win32 calls) with recording stand-ins for node and the SCM status.
const harness = `
using System;
using System.IO;
using ReconSync;
namespace Harness
{
  class Status : IServiceStatus
  {
    int checkpoint;
    public void StopPending(int waitHintMs) { Console.WriteLine("status stop_pending checkpoint " + (++checkpoint) + " hint " + waitHintMs); }
    public void Stopped(int exitCode) { Console.WriteLine("status stopped " + exitCode); }
  }
  // Exits 'waits' WaitForExit calls after RequestStop (-1: never, until killed).
  class Child : IChild
  {
    readonly string name; readonly int waits; readonly int code; bool asked, exited; int left;
    public Child(string name, int waits, int code, bool askedAlready) { this.name = name; this.waits = waits; this.code = code; asked = askedAlready; left = waits; }
    public bool RequestStop() { Console.WriteLine(name + " ctrl-c"); asked = true; return true; }
    public bool WaitForExit(int ms) { if (exited) return true; if (!asked || waits < 0 || ms == 0) return false; if (left-- > 0) return false; exited = true; Console.WriteLine(name + " exited"); return true; }
    public void Kill() { Console.WriteLine(name + " killed"); exited = true; }
    public int ExitCode { get { return code; } }
  }
  static class Program
  {
    static int Main(string[] args)
    {
      if (args[0] == "log")
      {
        // The rolled name is taken by a folder: the roll fails the way a held file makes it fail on Windows.
        Directory.CreateDirectory(Path.Combine(args[1], "svc.1.log"));
        using (var log = new RollingLog(args[1], "svc", 100, 3))
          for (int i = 0; i < 20; i++) log.Line("line " + i + " of the agent's output");
        Console.WriteLine("log survived");
        return 0;
      }
      int agentWaits = int.Parse(args[1]);
      int gamesWaits = int.Parse(args[2]);
      var lifecycle = new AgentLifecycle(new Status(), Console.WriteLine, 6000, 8000,
        delegate { Console.WriteLine("stop-games started"); return new Child("stop-games", gamesWaits, 0, true); });
      lifecycle.Agent = new Child("agent", agentWaits, 0, false);
      foreach (string control in args[0].Split(','))
        lifecycle.OnControl((ServiceControl)Enum.Parse(typeof(ServiceControl), control));
      return 0;
    }
  }
}
`;

test('service controls: STOP leaves games running, PRESHUTDOWN stops every game with checkpoints; log rotation survives a held file', { skip: mcs && mono ? false : 'mono-mcs is not installed' }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-winsvc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const exe = path.join(dir, 'harness.exe');
  await writeFile(path.join(dir, 'Harness.cs'), harness);
  const compiled = await run(mcs!, ['-langversion:5', '-target:exe', `-out:${exe}`, '-main:Harness.Program', '-r:System.Xml.dll', ...(await sources()), path.join(dir, 'Harness.cs')]);
  assert.equal(compiled.code, 0, compiled.stdout + compiled.stderr);
  const transcript = async (...args: string[]) => {
    const r = await run(mono!, [exe, ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split(/\r?\n/).filter((l) => !l.startsWith('[wrapper]'));
  };

  // STOP: the agent gets Ctrl+C and exits; stop-games never runs.
  assert.deepEqual(await transcript('Stop', '1', '0'), [
    'status stop_pending checkpoint 1 hint 10000',
    'agent ctrl-c',
    'status stop_pending checkpoint 2 hint 10000',
    'agent exited',
    'status stopped 0',
  ]);

  // PRESHUTDOWN, then the SHUTDOWN that follows it: agent first, then stop-games with a
  // checkpoint every 2 s while the games save; SHUTDOWN does nothing twice.
  assert.deepEqual(await transcript('Preshutdown,Shutdown', '0', '2'), [
    'status stop_pending checkpoint 1 hint 10000',
    'agent ctrl-c',
    'agent exited',
    'stop-games started',
    'status stop_pending checkpoint 2 hint 10000',
    'status stop_pending checkpoint 3 hint 10000',
    'stop-games exited',
    'status stopped 0',
  ]);

  // A bare SHUTDOWN (no PRESHUTDOWN came) is a host shutdown too.
  assert.ok((await transcript('Shutdown', '0', '0')).includes('stop-games started'));

  // An agent that ignores Ctrl+C: after the stop timeout (6 s = 3 checkpoints) only node is
  // ended; games are not its children.
  const stuck = await transcript('Stop', '-1', '0');
  assert.deepEqual(stuck.slice(-2), ['agent killed', 'status stopped 0']);
  assert.ok(!stuck.includes('stop-games started'));
  assert.equal(stuck.filter((l) => l.startsWith('status stop_pending')).length, 4);

  // stop-games that hangs past its budget is given up on, and the service still reports stopped (failure).
  const hung = await transcript('Preshutdown', '0', '-1');
  assert.deepEqual(hung.slice(-2), ['stop-games killed', 'status stopped 1']);

  const logDir = path.join(dir, 'logs');
  await mkdir(logDir);
  assert.deepEqual(await transcript('log', logDir), ['log survived']);
  assert.match(await readFile(path.join(logDir, 'svc.log'), 'utf8'), /line 19 of the agent's output/);
});
