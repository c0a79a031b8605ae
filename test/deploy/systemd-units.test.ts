import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderAgentUnit, renderShutdownUnit, unitWord } from '../../deploy/systemd-unit.ts';

const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/systemd');
const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

/** Runs `systemd-analyze verify` on a copy of the unit; returns the problems it reports about that unit. */
async function verify(unitName: string, content: string): Promise<{ code: number; problems: string[] }> {
  return verifyTogether({ [unitName]: content });
}

/** `systemd-analyze verify` on several units in one folder (so it sees their dependencies and ordering on each other). */
async function verifyTogether(units: Record<string, string>): Promise<{ code: number; problems: string[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-units-'));
  try {
    const files = Object.keys(units).map((name) => path.join(dir, name));
    for (const [name, content] of Object.entries(units)) await writeFile(path.join(dir, name), content);
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(analyze!, ['verify', ...files], { timeout: 30_000 }, (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
      });
    });
    // Unknown keys and bad values are only warnings (exit 0): count every line about our files (ordering cycles name them too).
    const problems = stderr.split('\n').filter((l) => Object.keys(units).some((name) => l.includes(name)) || files.some((f) => l.includes(f)));
    return { code, problems };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the shipped agent units are exactly what renderAgentUnit() and renderShutdownUnit() write', async () => {
  const shipped = await readFile(path.join(deployDir, 'reconsync-agent.service'), 'utf8');
  assert.equal(shipped, renderAgentUnit(), 'regenerate deploy/systemd/reconsync-agent.service from deploy/systemd-unit.ts');
  const shutdown = await readFile(path.join(deployDir, 'reconsync-agent-shutdown.service'), 'utf8');
  assert.equal(shutdown, renderShutdownUnit(), 'regenerate deploy/systemd/reconsync-agent-shutdown.service from deploy/systemd-unit.ts');
});

/** The value of `key=` in a unit (last one wins, as in systemd). */
function setting(unit: string, key: string): string | undefined {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].at(-1)?.[1];
}

function seconds(value: string | undefined): number {
  const m = /^(\d+)(s|min)?$/.exec(value ?? '');
  assert.ok(m, `a plain duration, got ${value}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

test('stopping the agent unit signals the agent only and is short; the games stop only through the shutdown unit', async () => {
  const agent = await readFile(path.join(deployDir, 'reconsync-agent.service'), 'utf8');
  // mixed or control-group would SIGTERM/SIGKILL the games on every `systemctl restart reconsync-agent`.
  assert.equal(setting(agent, 'KillMode'), 'process');
  assert.ok(seconds(setting(agent, 'TimeoutStopSec')) <= 60, 'the agent exits within seconds; a long timeout only delays restarts');
  assert.match(setting(agent, 'Wants') ?? '', /\breconsync-agent-shutdown\.service\b/, 'starting the agent arms the shutdown hook');

  const hook = await readFile(path.join(deployDir, 'reconsync-agent-shutdown.service'), 'utf8');
  assert.equal(setting(hook, 'Type'), 'oneshot');
  assert.equal(setting(hook, 'RemainAfterExit'), 'yes', 'stays active from boot, so its ExecStop runs at shutdown');
  assert.equal(setting(hook, 'ExecStart'), '/bin/true');
  assert.equal(setting(hook, 'ExecStop'), '/usr/bin/env node /opt/reconsync/reconsync.js agent stop-games --config /etc/reconsync/agent.yaml');
  // Reverse stop order: the agent exits first (nothing restarts the games), the network is still up for the admin channels.
  assert.equal(setting(hook, 'Before'), 'reconsync-agent.service');
  assert.equal(setting(hook, 'After'), 'network-online.target');
  assert.equal(setting(hook, 'User'), setting(agent, 'User'), 'signals the games as the account that runs them');
  assert.equal(setting(hook, 'EnvironmentFile'), setting(agent, 'EnvironmentFile'), 'agent.yaml needs the same ${VAR}s');
  assert.ok(seconds(setting(hook, 'TimeoutStopSec')) >= 120, 'long enough for saves');
  assert.equal(setting(hook, 'WantedBy'), 'multi-user.target');
});

for (const name of ['reconsync-hub.service', 'reconsync-agent.service']) {
  test(`${name} is hardened and restarts on failure`, async () => {
    const unit = await readFile(path.join(deployDir, name), 'utf8');
    const has = (line: string) => assert.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), `${name} lacks ${line}`);
    for (const line of ['User=reconsync', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'Restart=on-failure', 'RestartSec=5s', 'StartLimitBurst=5', 'CapabilityBoundingSet=']) has(line);
    const role = name.includes('hub') ? 'hub' : 'agent';
    // The agent runs the bundle; the hub runs from a checkout (bin/reconsync.js), which has discord.js and better-sqlite3.
    has(`ExecStart=/usr/bin/env node /opt/reconsync/${role === 'hub' ? 'bin/' : ''}reconsync.js ${role} --config /etc/reconsync/${role}.yaml`);
    has(`EnvironmentFile=-/etc/reconsync/${role}.env`);
    has(`ReadWritePaths=/var/lib/reconsync/${role}`);
    has(role === 'hub' ? 'ProtectHome=yes' : 'ProtectHome=read-only');
    assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=/m, 'V8 needs W+X pages');
  });
}

test('systemd-analyze verify accepts both units, the drop-in example and unusual paths', { skip: analyze ? false : 'systemd-analyze is not installed (CI installs systemd)' }, async () => {
  for (const name of ['reconsync-hub.service', 'reconsync-agent.service', 'reconsync-agent-shutdown.service']) {
    const r = await verify(name, await readFile(path.join(deployDir, name), 'utf8'));
    assert.deepEqual(r, { code: 0, problems: [] }, name);
  }
  // Both agent units in one folder: their Wants=/Before= on each other resolve, no ordering cycle.
  const both = await verifyTogether({
    'reconsync-agent.service': await readFile(path.join(deployDir, 'reconsync-agent.service'), 'utf8'),
    'reconsync-agent-shutdown.service': await readFile(path.join(deployDir, 'reconsync-agent-shutdown.service'), 'utf8'),
  });
  assert.deepEqual(both, { code: 0, problems: [] }, 'agent + shutdown unit');
  // The drop-in's [Service] lines appended to the unit: the same keys systemd merges.
  const dropIn = await readFile(path.join(deployDir, 'agent-paths.conf.example'), 'utf8');
  const merged = `${await readFile(path.join(deployDir, 'reconsync-agent.service'), 'utf8')}\n${dropIn.slice(dropIn.indexOf('[Service]'))}`;
  assert.deepEqual(await verify('reconsync-agent.service', merged), { code: 0, problems: [] }, 'with agent-paths.conf.example');

  const odd = renderAgentUnit({
    configPath: '/home/some one/cfg 100%/agent.yaml',
    dataDir: '/srv/reconsync data',
    envFile: '/etc/reconsync/my env',
    writablePaths: ['/opt/valheim', '/home/steam/My Saves'],
    entry: '/usr/bin/env',
  });
  assert.deepEqual(await verify('reconsync-agent.service', odd), { code: 0, problems: [] }, odd);
  const oddHook = renderShutdownUnit({ configPath: '/home/some one/cfg 100%/agent.yaml', dataDir: '/srv/reconsync data', envFile: '/etc/reconsync/my env' });
  assert.deepEqual(await verify('reconsync-agent-shutdown.service', oddHook), { code: 0, problems: [] }, oddHook);
});

test('the together-verify helper reports an ordering cycle (so the check above can fail)', { skip: analyze ? false : 'systemd-analyze is not installed' }, async () => {
  const cyclic = renderShutdownUnit().replace('After=network-online.target', 'After=network-online.target reconsync-agent.service');
  const r = await verifyTogether({ 'reconsync-agent.service': renderAgentUnit(), 'reconsync-agent-shutdown.service': cyclic });
  assert.ok(r.problems.some((l) => /cycle/i.test(l)), r.problems.join('\n') || 'no problem reported');
});

test('the verify helper reports a broken unit (so the test above can fail)', { skip: analyze ? false : 'systemd-analyze is not installed' }, async () => {
  const unit = renderAgentUnit().replace('NoNewPrivileges=yes', 'NoNewPrivilegez=yes').replace('Restart=on-failure', 'Restart=sometimes');
  const r = await verify('reconsync-agent.service', unit);
  assert.equal(r.problems.length, 2, r.problems.join('\n'));
});

test('renderAgentUnit quotes and escapes paths and lists game folders as optional writable paths', () => {
  const unit = renderAgentUnit({
    entry: '/opt/rs/reconsync.js',
    configPath: '/etc/rs/agent 50%.yaml',
    dataDir: '/var/lib/rs/agent/',
    writablePaths: ['/srv/ark', '/var/lib/rs/agent', '/home/steam/a b', '/srv/ark/'],
    user: 'steam',
    group: 'steam',
  });
  assert.match(unit, /^ExecStart=\/usr\/bin\/env node \/opt\/rs\/reconsync.js agent --config "\/etc\/rs\/agent 50%%.yaml"$/m);
  assert.match(unit, /^StateDirectory=rs\/agent$/m);
  assert.match(unit, /^ReadWritePaths=\/var\/lib\/rs\/agent$/m);
  assert.match(unit, /^ReadWritePaths=-\/srv\/ark -"\/home\/steam\/a b"$/m);
  assert.match(unit, /^User=steam$/m);
  assert.match(unit, /^Documentation=file:\/opt\/rs\/README.md$/m);
  // Outside /var/lib there is no StateDirectory=: the folder must exist and is listed as writable.
  const elsewhere = renderAgentUnit({ dataDir: '/srv/agent-data' });
  assert.doesNotMatch(elsewhere, /StateDirectory=/);
  assert.match(elsewhere, /^ReadWritePaths=\/srv\/agent-data$/m);
  assert.throws(() => renderAgentUnit({ configPath: 'agent.yaml' }), /absolute/);
  assert.throws(() => renderAgentUnit({ user: 'root; rm -rf /' }), /not a valid user/);
  assert.equal(unitWord('a$b', true), 'a$$b');
  assert.equal(unitWord('a$b'), 'a$b');
});

test('every file a unit points to exists where the unit says, for a bundle and for a checkout (bin/reconsync.js)', async () => {
  for (const [entry, root] of [['/opt/reconsync/reconsync.js', '/opt/reconsync'], ['/srv/reconsync/bin/reconsync.js', '/srv/reconsync']] as const) {
    const unit = renderAgentUnit({ entry });
    assert.match(unit, new RegExp(`^Documentation=file:${root}/README\\.md$`, 'm'), entry);
    const example = /\(example: (\S+)\)/.exec(unit)?.[1];
    assert.equal(example, `${root}/deploy/systemd/agent-paths.conf.example`, entry);
    // Relative to the program folder, the same files are in this repository (and in the bundle, see bundle.test.ts).
    for (const f of [example, `${root}/README.md`]) await readFile(path.join(deployDir, '../..', f.slice(root.length)));
  }
  assert.doesNotMatch(renderAgentUnit(), /next to this file/);
});
