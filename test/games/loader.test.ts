import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import picomatch from 'picomatch';
import { ConfigError } from '../../lib/config-file.ts';
import { defaultGamesDir, listGames, loadGameProfile, loadGameProfiles, mergeProfile } from '../../games/loader.ts';
import { gamedigTypeProblems } from '../../games/gamedig-check.ts';
import { gameIds, type GameProfile } from '../../games/profile.ts';

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-games-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function problemsOf(fn: () => unknown): { file: string; problems: string[] } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return { file: err.file, problems: err.problems };
  }
  assert.fail('expected a ConfigError');
}

const profiles = loadGameProfiles();
const get = (id: string): GameProfile => {
  const p = profiles.get(id);
  assert.ok(p, id);
  return p;
};

test('all ten fixed profile ids load from the folder next to the loader', () => {
  assert.deepEqual([...profiles.keys()].sort(), [...gameIds].sort());
  assert.ok(existsSync(path.join(defaultGamesDir(), 'valheim.yaml')));
  for (const p of profiles.values()) {
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.saves), `${p.id} is frozen`);
    assert.ok(p.saves.paths.linux || p.saves.paths.windows);
    assert.ok((p.process.names.linux?.length ?? 0) + (p.process.names.windows?.length ?? 0) > 0, `${p.id} has process names`);
    assert.ok(p.start?.linux || p.start?.windows, `${p.id} has a default start line`);
    if (p.stop.method === 'admin') assert.ok(p.admin.stopCommand, `${p.id} stops over its admin channel`);
  }
});

test('facts from games.md: ports, query kinds, admin kinds', () => {
  const facts: Record<string, [string, number, number | null, string, number | undefined]> = {
    valheim: ['a2s', 2457, 1, 'none', undefined],
    rust: ['a2s', 28017, 2, 'webrcon', 28016],
    ark: ['a2s', 27015, null, 'source-rcon', 27020],
    asa: ['rcon', 27020, null, 'source-rcon', 27020],
    '7dtd': ['a2s', 26900, 0, 'telnet', 8081],
    palworld: ['palworld-rest', 8212, null, 'palworld-rest', 8212],
    enshrouded: ['a2s', 15637, 1, 'none', undefined],
    satisfactory: ['satisfactory', 7777, 0, 'satisfactory-api', 7777],
    pzomboid: ['a2s', 16261, 0, 'source-rcon', 27015],
    minecraft: ['minecraft', 25565, 0, 'source-rcon', 25575],
  };
  for (const [id, [kind, port, offset, admin, adminPort]] of Object.entries(facts)) {
    const p = get(id);
    assert.deepEqual([p.query.kind, p.query.defaultPort, p.query.portOffset, p.admin.kind, p.admin.defaultPort], [kind, port, offset, admin, adminPort], id);
  }
  assert.equal(get('ark').query.gamedigType, 'ase');
  assert.equal(get('7dtd').query.gamedigType, 'sdtd');
  assert.equal(get('pzomboid').query.gamedigType, 'projectzomboid');
  assert.equal(get('rust').query.playersFromKeywords, true);
  assert.equal(get('valheim').query.versionFrom, 'keywords');
  // Which status names its players (join/leave events, /players): Valheim's A2S names are empty, Satisfactory counts only.
  const counts = ['valheim', 'rust', 'ark', 'asa', '7dtd', 'palworld', 'enshrouded', 'satisfactory', 'pzomboid', 'minecraft'].filter((g) => get(g).query.players === 'counts');
  assert.deepEqual(counts, ['valheim', 'satisfactory']);
  assert.deepEqual([get('ark').admin.dialect, get('minecraft').admin.dialect, get('pzomboid').admin.dialect], ['ark', 'minecraft', 'srcds']);
  assert.deepEqual(get('minecraft').admin.preBackupCommands, ['save-off']);
  assert.equal(get('valheim').stop.method, 'interrupt');
});

test('path variables stay in the profile (not replaced from the environment at load)', () => {
  assert.deepEqual(get('rust').saves.paths.linux, ['${installDir}/server/${identity}']);
});

test("default excludes drop each game's own backups and keep the world", () => {
  const cases: Record<string, { out: string[]; in: string[] }> = {
    valheim: { out: ['Dedicated.db.old', 'Dedicated.fwl.old', 'Dedicated_backup_auto-20240101120000.db'], in: ['Dedicated.db', 'Dedicated.fwl'] },
    ark: { out: ['TheIsland.bak', 'TheIsland_27.01.2024_12.00.00.ark', '123.arkprofile.bak', 'x.profilebak', 'x.tribebak', 'TheIsland.tmp'], in: ['TheIsland.ark', '76561198.arkprofile', '1234.arktribe'] },
    asa: { out: ['TheIsland_WP_27.01.2024_12.00.00.ark'], in: ['TheIsland_WP.ark'] },
    palworld: { out: ['0/ABC/backup/world/2024.01.01-12.00.00/Level.sav'], in: ['0/ABC/Level.sav', '0/ABC/Players/1.sav'] },
    rust: { out: ['proceduralmap.4500.1.sav.1', 'proceduralmap.4500.1.sav.12', 'backup/0/x.sav'], in: ['proceduralmap.4500.1.sav', 'player.blueprints.5.db', 'cfg/users.cfg'] },
    minecraft: { out: ['session.lock'], in: ['level.dat', 'region/r.0.0.mca'] },
  };
  for (const [id, c] of Object.entries(cases)) {
    const p = get(id);
    const excluded = picomatch(p.saves.exclude, { dot: true });
    const included = picomatch(p.saves.include, { dot: true });
    for (const f of c.out) assert.ok(excluded(f), `${id}: ${f} is excluded`);
    for (const f of c.in) assert.ok(included(f) && !excluded(f), `${id}: ${f} is kept`);
  }
  assert.ok(picomatch(get('rust').saves.sqlite)('player.deaths.5.db'));
  assert.ok(picomatch(get('asa').saves.sqlite)('TheIsland_WP.ark'));
});

test('listGames: one row per game, sorted, with query and admin summaries', () => {
  const rows = listGames();
  assert.deepEqual(rows.map((r) => r.id), [...gameIds].sort());
  const valheim = rows.find((r) => r.id === 'valheim')!;
  assert.equal(valheim.name, 'Valheim');
  assert.equal(valheim.query, 'a2s (valheim) on game port +1 (default 2457)');
  assert.equal(valheim.admin, 'none');
  assert.equal(rows.find((r) => r.id === 'ark')!.admin, 'source-rcon/ark on port 27020');
});

test('a bad value names the file, the key path and the expectation', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'valheim.yaml');
    const text = await readFile(path.join(defaultGamesDir(), 'valheim.yaml'), 'utf8');
    await writeFile(file, text.replace('kind: a2s', 'kind: udp').replace('defaultPort: 2457', 'defaultPort: 70000'));
    const { file: f, problems } = problemsOf(() => loadGameProfile(file));
    assert.equal(f, file);
    assert.ok(problems.some((p) => /^query\.kind: .*"a2s"/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /^query\.defaultPort: .*65535/.test(p)), problems.join('\n'));
  });
});

test('the id must match the file name', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'valheim2.yaml');
    await copyFile(path.join(defaultGamesDir(), 'valheim.yaml'), file);
    const { problems } = problemsOf(() => loadGameProfile(file));
    assert.deepEqual(problems, ['id: "valheim" must match the file name (expected "valheim2")']);
  });
});

test('YAML syntax errors, unknown keys and cross-field rules are reported precisely', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'ark.yaml');
    await writeFile(file, 'id: ark\nname: [unclosed\n');
    assert.match(problemsOf(() => loadGameProfile(file)).problems[0]!, /^YAML syntax/);
    const text = await readFile(path.join(defaultGamesDir(), 'ark.yaml'), 'utf8');
    await writeFile(file, text.replace('  dialect: ark\n', '').replace('saveCommand: saveworld', 'saveComand: saveworld'));
    const { problems } = problemsOf(() => loadGameProfile(file));
    assert.ok(problems.includes('admin.saveComand: unknown key (did you mean "saveCommand"?)'), problems.join('\n'));
    await writeFile(file, text.replace('  dialect: ark\n', ''));
    assert.deepEqual(problemsOf(() => loadGameProfile(file)).problems, ['admin.dialect: required for source-rcon: srcds, minecraft or ark']);
  });
});

test("a stale gamedig id (query.kind gamedig) is caught by config check, with gamedig's new name", async () => {
  const ark = get('ark');
  const asGamedig = (gamedigType: string) => mergeProfile(ark, { query: { kind: 'gamedig', gamedigType } });
  assert.deepEqual(await gamedigTypeProblems(asGamedig('arkse'), 'servers[a].query.gamedigType'), ['servers[a].query.gamedigType: "arkse" is not a game id of the installed gamedig; it was renamed to "ase"']);
  assert.match((await gamedigTypeProblems(asGamedig('7d2d'), 'k'))[0]!, /renamed to "sdtd"/);
  assert.deepEqual(await gamedigTypeProblems(asGamedig('ase'), 'k'), []);
  assert.deepEqual(await gamedigTypeProblems(asGamedig('protocol-valve'), 'k'), []);
  assert.match((await gamedigTypeProblems(asGamedig('protocol-nope'), 'k'))[0]!, /not a protocol of the installed gamedig/);
  // kind a2s uses our own client: its gamedigType is not read, so not checked (and gamedig is not loaded for it).
  assert.deepEqual(await gamedigTypeProblems(mergeProfile(ark, { query: { gamedigType: 'arkse' } }), 'k'), []);
  assert.deepEqual(problemsOf(() => mergeProfile(get('minecraft'), { query: { kind: 'gamedig' } })).problems, ['profile.query.gamedigType: required when query.kind is gamedig']);
});

test('extraDir adds games and replaces built-in ones', async () => {
  await withDir(async (dir) => {
    const text = await readFile(path.join(defaultGamesDir(), 'valheim.yaml'), 'utf8');
    await writeFile(path.join(dir, 'valheim.yaml'), text.replace('name: Valheim', 'name: Valheim (modded)'));
    await writeFile(path.join(dir, 'myvalheim.yaml'), text.replace('id: valheim', 'id: myvalheim'));
    await writeFile(path.join(dir, 'README.txt'), 'not a profile');
    const all = loadGameProfiles({ extraDir: dir });
    assert.equal(all.size, 11);
    assert.equal(all.get('valheim')!.name, 'Valheim (modded)');
    assert.equal(all.get('myvalheim')!.query.defaultPort, 2457);
  });
});

test('a missing extraDir is a ConfigError naming it', () => {
  const missing = path.join(os.tmpdir(), 'reconsync-no-such-dir-xyz');
  const { file, problems } = problemsOf(() => loadGameProfiles({ extraDir: missing }));
  assert.equal(file, missing);
  assert.match(problems[0]!, /ENOENT/);
});

test('mergeProfile: deep-merges objects, replaces arrays, keeps the rest', () => {
  const base = get('minecraft');
  const merged = mergeProfile(base, { admin: { saveCommand: 'save-all' }, saves: { paths: { linux: ['${installDir}/world', '${installDir}/world_nether'] } } }, 'servers.0.profile');
  assert.equal(merged.admin.saveCommand, 'save-all');
  assert.equal(merged.admin.stopCommand, 'stop', 'untouched keys survive');
  assert.deepEqual(merged.saves.paths.linux, ['${installDir}/world', '${installDir}/world_nether']);
  assert.deepEqual(merged.saves.paths.windows, base.saves.paths.windows);
  assert.equal(base.admin.saveCommand, 'save-all flush', 'the base profile is not changed');
  assert.ok(Object.isFrozen(merged));
});

test('mergeProfile errors name the agent config key', () => {
  const base = get('rust');
  assert.deepEqual(problemsOf(() => mergeProfile(base, { admin: { saveCommand: 5 } }, 'servers.2.profile')).problems,
    ['servers.2.profile.admin.saveCommand: Invalid input: expected string, received number']);
  const unknown = problemsOf(() => mergeProfile(base, { query: { bogus: true } }, 'servers.2.profile')).problems;
  assert.equal(unknown.length, 1);
  assert.match(unknown[0]!, /^servers\.2\.profile\.query\.bogus: unknown key/);
  assert.match(problemsOf(() => mergeProfile(base, { id: 'valheim' }, 'servers.2.profile')).problems[0]!, /^servers\.2\.profile\.id: cannot change/);
  assert.match(problemsOf(() => mergeProfile(base, { admin: { kind: 'none', stopCommand: undefined } })).problems.join('\n'), /^profile\.stop\.method: method admin needs/m);
});
