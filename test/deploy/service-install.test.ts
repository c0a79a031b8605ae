import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  agentServiceStatus,
  agentWritablePaths,
  installAgentService,
  ServiceCommandError,
  uninstallAgentService,
  type CommandResult,
  type CommandRunner,
} from '../../deploy/service-install.ts';
import { renderAgentUnit, renderShutdownUnit } from '../../deploy/systemd-unit.ts';
import { loadAgentConfig } from '../../agent/config.ts';

/** Records every command; answers from a table keyed by "command arg arg". */
function recordingRunner(answers: Record<string, Partial<CommandResult>> = {}): CommandRunner & { calls: string[][] } {
  const calls: string[][] = [];
  const run = (async (command: string, args: readonly string[]) => {
    calls.push([command, ...args]);
    const a = answers[[command, ...args].join(' ')] ?? {};
    return { code: a.code ?? 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
  }) as CommandRunner & { calls: string[][] };
  run.calls = calls;
  return run;
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-svc-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('linux install: creates the user, writes both units, reloads, enables them, arms the shutdown hook and (re)starts the agent', async (t) => {
  const unitDir = await tempDir(t);
  const run = recordingRunner({ 'useradd --system --user-group --home-dir /var/lib/reconsync --no-create-home --shell /usr/sbin/nologin reconsync': { code: 9 } });
  const plan = await installAgentService({
    platform: 'linux',
    configPath: 'conf/agent.yaml',
    cwd: '/etc/reconsync',
    bundleDir: '/opt/reconsync',
    unitDir,
    writablePaths: ['/srv/ark', '/home/steam/.config/unity3d/IronGate/Valheim/worlds_local'],
    run,
  });
  assert.deepEqual(run.calls, [
    ['useradd', '--system', '--user-group', '--home-dir', '/var/lib/reconsync', '--no-create-home', '--shell', '/usr/sbin/nologin', 'reconsync'],
    ['systemctl', 'daemon-reload'],
    ['systemctl', 'enable', 'reconsync-agent.service', 'reconsync-agent-shutdown.service'],
    // start, never restart: stopping the hook stops every game. Restarting the agent leaves them running.
    ['systemctl', 'start', 'reconsync-agent-shutdown.service'],
    ['systemctl', 'restart', 'reconsync-agent.service'],
  ]);
  const unitFile = path.join(unitDir, 'reconsync-agent.service');
  const unit = await readFile(unitFile, 'utf8');
  assert.equal(unit, renderAgentUnit({ configPath: '/etc/reconsync/conf/agent.yaml', writablePaths: ['/srv/ark', '/home/steam/.config/unity3d/IronGate/Valheim/worlds_local'] }));
  assert.match(unit, /^ExecStart=\/usr\/bin\/env node \/opt\/reconsync\/reconsync.js agent --config \/etc\/reconsync\/conf\/agent.yaml$/m);
  assert.equal((await stat(unitFile)).mode & 0o777, 0o644);
  assert.equal(plan.serviceName, 'reconsync-agent');
  assert.equal(plan.steps.filter((s) => s.kind === 'write').length, 2);
  const hook = await readFile(path.join(unitDir, 'reconsync-agent-shutdown.service'), 'utf8');
  assert.equal(hook, renderShutdownUnit({ configPath: '/etc/reconsync/conf/agent.yaml', writablePaths: ['/srv/ark', '/home/steam/.config/unity3d/IronGate/Valheim/worlds_local'] }));
  assert.match(hook, /^ExecStop=\/usr\/bin\/env node \/opt\/reconsync\/reconsync.js agent stop-games --config \/etc\/reconsync\/conf\/agent.yaml$/m);
  assert.ok(!run.calls.some((c) => c[1] === 'restart' && c[2] === 'reconsync-agent-shutdown.service'), 'the hook is never restarted');
});

test('a custom service name names the shutdown hook after it and orders it before that unit', async (t) => {
  const unitDir = await tempDir(t);
  const plan = await installAgentService({ platform: 'linux', configPath: '/etc/rs/agent.yaml', bundleDir: '/opt/reconsync', unitDir, serviceName: 'rs-box2', dryRun: true });
  const hook = plan.steps.find((s) => s.kind === 'write' && s.path.endsWith('rs-box2-shutdown.service'));
  assert.ok(hook && hook.kind === 'write');
  assert.match(hook.content, /^Before=rs-box2\.service$/m);
  const agent = plan.steps.find((s) => s.kind === 'write' && s.path.endsWith('rs-box2.service'));
  assert.ok(agent && agent.kind === 'write');
  assert.match(agent.content, /^Wants=network-online.target rs-box2-shutdown\.service$/m);
});

test('linux install with another user skips useradd; a failing systemctl stops the install with the command in the error', async (t) => {
  const unitDir = await tempDir(t);
  const run = recordingRunner({ 'systemctl enable reconsync-agent.service reconsync-agent-shutdown.service': { code: 1, stderr: 'Failed to enable unit: Access denied' } });
  await assert.rejects(
    installAgentService({ platform: 'linux', configPath: '/etc/reconsync/agent.yaml', bundleDir: '/opt/reconsync', unitDir, user: 'steam', run }),
    (err: unknown) => {
      assert.ok(err instanceof ServiceCommandError);
      assert.equal(err.code, 'SERVICE_COMMAND_FAILED');
      assert.match(err.message, /systemctl enable reconsync-agent.service reconsync-agent-shutdown.service" exited with 1:\nFailed to enable unit: Access denied/);
      return true;
    },
  );
  assert.deepEqual(run.calls.map((c) => c.join(' ')), ['systemctl daemon-reload', 'systemctl enable reconsync-agent.service reconsync-agent-shutdown.service']);
  assert.match(await readFile(path.join(unitDir, 'reconsync-agent.service'), 'utf8'), /^User=steam$/m);
});

test('dry run returns the plan and neither writes nor runs anything', async (t) => {
  const unitDir = await tempDir(t);
  const run = recordingRunner();
  const plan = await installAgentService({ platform: 'linux', configPath: '/etc/reconsync/agent.yaml', bundleDir: '/opt/reconsync', unitDir, dryRun: true, run });
  assert.equal(plan.dryRun, true);
  assert.deepEqual(plan.steps.map((s) => s.kind), ['run', 'write', 'write', 'run', 'run', 'run', 'run']);
  assert.deepEqual(run.calls, []);
  await assert.rejects(access(path.join(unitDir, 'reconsync-agent.service')));
});

test('linux uninstall disables, removes both units and reloads, never stopping the games; tolerates a unit that is already gone', async (t) => {
  const unitDir = await tempDir(t);
  const unitFile = path.join(unitDir, 'reconsync-agent.service');
  const hookFile = path.join(unitDir, 'reconsync-agent-shutdown.service');
  await writeFile(unitFile, renderAgentUnit());
  await writeFile(hookFile, renderShutdownUnit());
  const run = recordingRunner({ 'systemctl reset-failed reconsync-agent.service': { code: 1 } });
  await uninstallAgentService({ platform: 'linux', configPath: '', bundleDir: '/opt/reconsync', unitDir, run });
  assert.deepEqual(run.calls.map((c) => c.join(' ')), [
    'systemctl disable --now reconsync-agent.service',
    // Not --now: stopping the hook runs stop-games.
    'systemctl disable reconsync-agent-shutdown.service',
    'systemctl daemon-reload',
    'systemctl reset-failed reconsync-agent.service',
  ]);
  await assert.rejects(access(unitFile));
  await assert.rejects(access(hookFile));
});

test('windows install and uninstall run the bundled PowerShell scripts with Windows paths', async () => {
  const run = recordingRunner();
  const plan = await installAgentService({
    platform: 'windows',
    configPath: 'agent.yaml',
    cwd: 'C:\\ProgramData\\ReconSync',
    bundleDir: 'C:\\Program Files\\ReconSync\\',
    logDir: 'D:\\logs\\reconsync',
    writablePaths: ['D:\\Games\\ark', 'agent-data', 'D:\\Games\\ark'],
    run,
  });
  assert.equal(plan.serviceName, 'ReconSyncAgent');
  // The service (and every game it starts) runs as its own virtual account, never LocalSystem by default,
  // with write access to the folders of agent.yaml.
  assert.deepEqual(run.calls, [[
    'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass',
    '-File', 'C:\\Program Files\\ReconSync\\deploy\\windows\\install-agent.ps1',
    '-ServiceName', 'ReconSyncAgent',
    '-BundleDir', 'C:\\Program Files\\ReconSync',
    '-ConfigPath', 'C:\\ProgramData\\ReconSync\\agent.yaml',
    '-Entry', 'C:\\Program Files\\ReconSync\\reconsync.js',
    '-Account', 'NT SERVICE\\ReconSyncAgent',
    '-WritablePaths', 'D:\\Games\\ark;C:\\ProgramData\\ReconSync\\agent-data',
    '-LogDir', 'D:\\logs\\reconsync',
  ]]);
  const named = recordingRunner();
  await installAgentService({ platform: 'windows', configPath: 'C:\\a.yaml', bundleDir: 'C:\\rs', serviceName: 'RS2', run: named });
  assert.deepEqual(named.calls[0]!.slice(named.calls[0]!.indexOf('-Account'), named.calls[0]!.indexOf('-Account') + 2), ['-Account', 'NT SERVICE\\RS2']);
  assert.ok(!named.calls[0]!.includes('-WritablePaths'), 'no folders, no argument');
  // System programs by full path under %SystemRoot%: a bare name would be looked up in the current folder first.
  const elsewhere = recordingRunner();
  await installAgentService({ platform: 'windows', configPath: 'C:\\a.yaml', bundleDir: 'C:\\rs', systemRoot: 'D:\\WINNT', run: elsewhere });
  assert.equal(elsewhere.calls[0]![0], 'D:\\WINNT\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
  await assert.rejects(installAgentService({ platform: 'windows', configPath: 'a', bundleDir: 'C:\\x', writablePaths: ['D:\\a;b'], run }), /contains ";"/);
  const un = recordingRunner();
  await uninstallAgentService({ platform: 'windows', configPath: '', bundleDir: 'C:\\Program Files\\ReconSync', serviceName: 'RS2', run: un });
  assert.deepEqual(un.calls, [[
    'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass',
    '-File', 'C:\\Program Files\\ReconSync\\deploy\\windows\\uninstall-agent.ps1', '-ServiceName', 'RS2',
  ]]);
  await assert.rejects(installAgentService({ platform: 'windows', configPath: 'a', bundleDir: 'C:\\x', serviceName: 'bad name"', run }), /service name/);
});

test('the PowerShell installer accepts every parameter service-install passes', async () => {
  const script = await readFile(new URL('../../deploy/windows/install-agent.ps1', import.meta.url), 'utf8');
  const params = script.slice(script.indexOf('param('), script.indexOf('Set-StrictMode'));
  for (const p of ['ServiceName', 'BundleDir', 'ConfigPath', 'Entry', 'LogDir', 'NodePath', 'Account', 'WritablePaths']) assert.match(params, new RegExp(`\\$${p}\\b`), p);
  // Run by hand, the script defaults to the same account as the CLI: the virtual account, set with sc.exe, granted its folders.
  assert.match(script, /elseif \(-not \$Account\) \{ \$Account = "NT SERVICE\\\$ServiceName" \}/);
  assert.match(script, /sc\.exe config \$ServiceName obj= \$Account/);
  assert.match(script, /foreach \(\$p in \$grantPaths\)/);
  assert.doesNotMatch(script, /Default LocalSystem/);
  const un = await readFile(new URL('../../deploy/windows/uninstall-agent.ps1', import.meta.url), 'utf8');
  assert.match(un.slice(un.indexOf('param('), un.indexOf('Set-StrictMode')), /\$ServiceName\b/);
});

test('status: systemctl answers on linux, sc.exe answers on windows', async (t) => {
  const unitDir = await tempDir(t);
  const linuxGone = await agentServiceStatus({ platform: 'linux', unitDir, run: recordingRunner({
    'systemctl is-enabled reconsync-agent.service': { code: 1, stdout: '', stderr: 'Failed to get unit file state for reconsync-agent.service: No such file or directory' },
    'systemctl is-active reconsync-agent.service': { code: 3, stdout: 'inactive\n' },
  }) });
  assert.deepEqual({ ...linuxGone, detail: undefined }, { platform: 'linux', serviceName: 'reconsync-agent', installed: false, enabled: false, running: false, detail: undefined });

  await writeFile(path.join(unitDir, 'reconsync-agent.service'), renderAgentUnit());
  const linuxUp = await agentServiceStatus({ platform: 'linux', unitDir, run: recordingRunner({
    'systemctl is-enabled reconsync-agent.service': { stdout: 'enabled\n' },
    'systemctl is-active reconsync-agent.service': { stdout: 'active\n' },
  }) });
  assert.deepEqual(linuxUp, { platform: 'linux', serviceName: 'reconsync-agent', installed: true, enabled: true, running: true, detail: 'reconsync-agent.service: active, enabled' });

  const winGone = await agentServiceStatus({ platform: 'windows', run: recordingRunner({ 'C:\\Windows\\System32\\sc.exe query ReconSyncAgent': { code: 1060, stdout: '[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\n' } }) });
  assert.equal(winGone.installed, false);
  assert.equal(winGone.detail, 'ReconSyncAgent: not installed');

  const winUp = await agentServiceStatus({ platform: 'windows', run: recordingRunner({
    'C:\\Windows\\System32\\sc.exe query ReconSyncAgent': { stdout: 'SERVICE_NAME: ReconSyncAgent\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        STATE              : 4  RUNNING\r\n' },
    'C:\\Windows\\System32\\sc.exe qc ReconSyncAgent': { stdout: '[SC] QueryServiceConfig SUCCESS\r\n        START_TYPE         : 2   AUTO_START  (DELAYED)\r\n' },
  }) });
  assert.deepEqual(winUp, { platform: 'windows', serviceName: 'ReconSyncAgent', installed: true, enabled: true, running: true, detail: 'ReconSyncAgent: RUNNING, AUTO_START' });
});

test('agentWritablePaths lists dataDir, install/save dirs, start cwd and path destinations of agent.yaml', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'agent.yaml');
  await writeFile(file, [
    'id: box', 'hub: { url: ws://127.0.0.1:7780/agent, token: 0123456789abcdef0123 }', 'dataDir: ./data',
    'servers:',
    '  - { id: a, game: valheim, installDir: /opt/valheim, saveDir: /home/steam/worlds, backup: { destinations: [local, "remote:bucket/a", /mnt/nas/a] } }',
    '  - { id: b, game: ark, installDir: /srv/ark, start: { command: ./x, cwd: /srv/ark/bin } }',
  ].join('\n'));
  const cfg = loadAgentConfig(file, { env: {} });
  assert.deepEqual(agentWritablePaths(cfg, ['/srv/ark/ShooterGame/Saved/SavedArks']), [
    path.join(dir, 'data'), '/opt/valheim', '/home/steam/worlds', '/mnt/nas/a', '/srv/ark', '/srv/ark/bin', '/srv/ark/ShooterGame/Saved/SavedArks',
  ]);
});

test('spawnRunner runs a real program and reports a missing one as 127', async () => {
  const { spawnRunner } = await import('../../deploy/service-install.ts');
  const ok = await spawnRunner(process.execPath, ['-e', 'process.stdout.write("hi"); process.stderr.write("err"); process.exit(4)']);
  assert.deepEqual(ok, { code: 4, stdout: 'hi', stderr: 'err' });
  const missing = await spawnRunner('/nonexistent/reconsync-test-binary', []);
  assert.equal(missing.code, 127);
});

test('a data dir outside /var/lib is created for the service user before the unit is written', async (t) => {
  const unitDir = await tempDir(t);
  const plan = await installAgentService({ platform: 'linux', configPath: '/srv/rs/agent.yaml', bundleDir: '/opt/reconsync', unitDir, dataDir: '/srv/rs/agent-data', user: 'steam', dryRun: true });
  assert.deepEqual(plan.steps.map((s) => (s.kind === 'run' ? [s.command, ...s.args].join(' ') : `${s.kind} ${s.path}`)), [
    'install -d -o steam -g steam -m 0750 /srv/rs/agent-data',
    `write ${path.join(unitDir, 'reconsync-agent.service')}`,
    `write ${path.join(unitDir, 'reconsync-agent-shutdown.service')}`,
    'systemctl daemon-reload',
    'systemctl enable reconsync-agent.service reconsync-agent-shutdown.service',
    'systemctl start reconsync-agent-shutdown.service',
    'systemctl restart reconsync-agent.service',
  ]);
  const write = plan.steps.find((s) => s.kind === 'write');
  assert.ok(write && write.kind === 'write');
  assert.match(write.content, /^ReadWritePaths=\/srv\/rs\/agent-data$/m);
  assert.doesNotMatch(write.content, /StateDirectory=/);
});

test('resolveProgramLocation finds the folder holding deploy/ from the bundle file or from bin/ of a checkout', async (t) => {
  const { resolveProgramLocation } = await import('../../deploy/service-install.ts');
  const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
  assert.deepEqual(resolveProgramLocation(path.join(repo, 'bin', 'reconsync.js')), { bundleDir: repo, entry: path.join(repo, 'bin', 'reconsync.js') });
  const dir = await tempDir(t);
  const { mkdir: mk, symlink } = await import('node:fs/promises');
  await mk(path.join(dir, 'b', 'deploy', 'windows'), { recursive: true });
  await writeFile(path.join(dir, 'b', 'deploy', 'windows', 'install-agent.ps1'), '');
  await writeFile(path.join(dir, 'b', 'reconsync.js'), '');
  await symlink(path.join(dir, 'b', 'reconsync.js'), path.join(dir, 'link.js'));
  assert.deepEqual(resolveProgramLocation(path.join(dir, 'link.js')), { bundleDir: path.join(dir, 'b'), entry: path.join(dir, 'b', 'reconsync.js') });
});
