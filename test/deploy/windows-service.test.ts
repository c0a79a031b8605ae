import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const windowsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/windows');
const mcs = ['/usr/bin/mcs', '/usr/local/bin/mcs'].find((p) => existsSync(p));
const mono = ['/usr/bin/mono', '/usr/local/bin/mono'].find((p) => existsSync(p));

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

// Windows cannot run here; mono's C# compiler at C# 5 (the level of .NET Framework's
// csc.exe that install-agent.ps1 uses) catches what a reader would miss.
test('the service wrapper compiles at C# 5 and reads the XML install-agent.ps1 writes', { skip: mcs && mono ? false : 'mono-mcs is not installed (apt-get install mono-mcs libmono-system-serviceprocess4.0-cil)' }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-winsvc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const exe = path.join(dir, 'ReconSyncAgent.exe');
  const compiled = await run(mcs!, ['-langversion:5', '-target:exe', `-out:${exe}`, '-r:System.ServiceProcess.dll', '-r:System.Xml.dll', path.join(windowsDir, 'ReconSyncService.cs')]);
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
  const uninstall = await readFile(path.join(windowsDir, 'uninstall-agent.ps1'), 'utf8');
  assert.match(uninstall, /sc\.exe delete \$ServiceName/);
  assert.match(uninstall, /\[switch\]\$Purge/);
});
