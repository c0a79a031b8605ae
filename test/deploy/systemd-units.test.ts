import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderAgentUnit, unitWord } from '../../deploy/systemd-unit.ts';

const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/systemd');
const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

/** Runs `systemd-analyze verify` on a copy of the unit; returns the problems it reports about that unit. */
async function verify(unitName: string, content: string): Promise<{ code: number; problems: string[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-units-'));
  try {
    const file = path.join(dir, unitName);
    await writeFile(file, content);
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(analyze!, ['verify', file], { timeout: 30_000 }, (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
      });
    });
    // Unknown keys and bad values are only warnings (exit 0): count every line about our file.
    const problems = stderr.split('\n').filter((l) => l.includes(unitName) || l.includes(file));
    return { code, problems };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the shipped agent unit is exactly what renderAgentUnit() writes', async () => {
  const shipped = await readFile(path.join(deployDir, 'reconsync-agent.service'), 'utf8');
  assert.equal(shipped, renderAgentUnit(), 'regenerate deploy/systemd/reconsync-agent.service from deploy/systemd-unit.ts');
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
  for (const name of ['reconsync-hub.service', 'reconsync-agent.service']) {
    const r = await verify(name, await readFile(path.join(deployDir, name), 'utf8'));
    assert.deepEqual(r, { code: 0, problems: [] }, name);
  }
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
