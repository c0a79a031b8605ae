import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ServerConfigSchema, type ServerConfig } from '../../agent/config.ts';
import { loadGameProfiles, mergeProfile } from '../../games/loader.ts';
import { ResolveError, expandVars, resolveServer, type ResolvePlatform } from '../../agent/resolve-server.ts';

const profiles = loadGameProfiles();
const profile = (id: string) => profiles.get(id)!;
const cfg = (c: Record<string, unknown>): ServerConfig => ServerConfigSchema.parse({ id: 'srv1', ...c });

const linux: ResolvePlatform = { os: 'linux', home: '/home/steam', env: {} };
const windows: ResolvePlatform = {
  os: 'windows',
  home: 'C:\\Users\\steam',
  env: { AppData: 'C:\\Users\\steam\\AppData\\Roaming', LOCALAPPDATA: 'D:\\Local', USERPROFILE: 'C:\\Users\\steam' },
  path: path.win32,
};

function resolveError(fn: () => unknown): ResolveError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ResolveError, `expected ResolveError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ResolveError');
}

test('expandVars replaces known names and defers unknown ones', () => {
  assert.equal(expandVars('${a}/x/${b}', { a: '1', b: '2' }, () => assert.fail()), '1/x/2');
  assert.throws(() => expandVars('${nope}', {}, (n) => { throw new Error(`missing ${n}`); }), /missing nope/);
  assert.equal(expandVars('$HOME and ${ not a var }', {}, () => assert.fail()), '$HOME and ${ not a var }');
});

test('Valheim on Linux: home-based save path, query port = game port + 1, watch only', () => {
  const r = resolveServer(cfg({ game: 'valheim', gamePort: 2456, name: 'Valheim Main' }), profile('valheim'), linux);
  assert.deepEqual(r.savePaths, ['/home/steam/.config/unity3d/IronGate/Valheim/worlds_local']);
  assert.deepEqual(r.query, { kind: 'a2s', gamedigType: 'valheim', host: '127.0.0.1', port: 2457, playersFromKeywords: false });
  assert.deepEqual(r.admin, { kind: 'none', host: '127.0.0.1', port: null, password: null, insecureTls: true });
  assert.equal(r.name, 'Valheim Main');
  assert.deepEqual(r.processNames, ['valheim_server.x86_64']);
  assert.equal(r.managed, false);
  assert.equal(r.start, null);
  assert.ok(r.exclude.includes('**/*.old'));
  assert.ok(Object.isFrozen(r) && Object.isFrozen(r.savePaths));
});

test('Valheim on Windows (path.win32): USERPROFILE-based path with backslashes and the .exe', () => {
  const r = resolveServer(cfg({ game: 'valheim' }), profile('valheim'), windows);
  assert.deepEqual(r.savePaths, ['C:\\Users\\steam\\AppData\\LocalLow\\IronGate\\Valheim\\worlds_local']);
  assert.equal(r.query.port, 2457, 'no gamePort: the default');
  assert.deepEqual(r.processNames, ['valheim_server.exe']);
  assert.equal(r.platform, 'windows');
});

test('7 Days to Die on Windows: ${appData} from the env, whatever its case; defaults when unset', () => {
  const r = resolveServer(cfg({ game: '7dtd' }), profile('7dtd'), windows);
  assert.deepEqual(r.savePaths, ['C:\\Users\\steam\\AppData\\Roaming\\7DaysToDie\\Saves', 'C:\\Users\\steam\\AppData\\Roaming\\7DaysToDie\\GeneratedWorlds']);
  const bare = resolveServer(cfg({ game: '7dtd' }), profile('7dtd'), { ...windows, env: {} });
  assert.equal(bare.savePaths[0], 'C:\\Users\\steam\\AppData\\Roaming\\7DaysToDie\\Saves');
  const onLinux = resolveServer(cfg({ game: '7dtd', gamePort: 26910 }), profile('7dtd'), linux);
  assert.equal(onLinux.savePaths[0], '/home/steam/.local/share/7DaysToDie/Saves');
  assert.equal(onLinux.query.port, 26910, '7DTD answers A2S on the game port');
  assert.equal(onLinux.admin.port, 8081);
});

test('Satisfactory on Windows: ${localAppData}; query and API follow the game port', () => {
  const r = resolveServer(cfg({ game: 'satisfactory', gamePort: 7779, rcon: { password: 'tok' } }), profile('satisfactory'), windows);
  assert.deepEqual(r.savePaths, ['D:\\Local\\FactoryGame\\Saved\\SaveGames\\server']);
  assert.equal(r.query.port, 7779);
  assert.equal(r.admin.port, 7779);
  assert.equal(r.admin.password, 'tok');
  assert.equal(r.admin.insecureTls, true);
});

test('Rust: ${identity} from the profile default or the server vars; ports from the game port', () => {
  const r = resolveServer(cfg({ game: 'rust', installDir: '/opt/rust', gamePort: 28115 }), profile('rust'), linux);
  assert.deepEqual(r.savePaths, ['/opt/rust/server/my_server_identity']);
  assert.equal(r.query.port, 28117);
  assert.equal(r.admin.port, 28116);
  assert.equal(r.query.playersFromKeywords, true);
  assert.deepEqual(r.sqlite, ['**/*.db']);
  const named = resolveServer(cfg({ game: 'rust', installDir: '/opt/rust', vars: { identity: 'main' }, rcon: { port: 30000, password: 'p' } }), profile('rust'), linux);
  assert.deepEqual(named.savePaths, ['/opt/rust/server/main']);
  assert.equal(named.admin.port, 30000, 'an explicit rcon.port wins');
  assert.equal(named.query.port, 28017, 'no gamePort: the default');
});

test('ARK: the query port does not follow the game port', () => {
  const r = resolveServer(cfg({ game: 'ark', installDir: 'D:\\ark', gamePort: 7777 }), profile('ark'), windows);
  assert.equal(r.query.port, 27015);
  assert.equal(r.admin.port, 27020);
  assert.equal(r.admin.dialect, 'ark');
  assert.deepEqual(r.savePaths, ['D:\\ark\\ShooterGame\\Saved\\SavedArks']);
});

test('Palworld and ASA: the status query goes wherever the admin channel is', () => {
  const pal = resolveServer(cfg({ game: 'palworld', installDir: '/opt/pal', rcon: { port: 8300, password: 'x' } }), profile('palworld'), linux);
  assert.equal(pal.query.port, 8300);
  const asa = resolveServer(cfg({ game: 'asa', installDir: '/opt/asa', vars: { map: 'ScorchedEarth' } }), profile('asa'), linux);
  assert.equal(asa.query.port, 27020);
  assert.deepEqual(asa.savePaths, ['/opt/asa/ShooterGame/Saved/SavedArks/ScorchedEarth_WP']);
});

test('explicit query host and port win', () => {
  const r = resolveServer(cfg({ game: 'valheim', gamePort: 2456, query: { host: '10.0.0.5', port: 3000 } }), profile('valheim'), linux);
  assert.deepEqual([r.query.host, r.query.port], ['10.0.0.5', 3000]);
});

test('saveDir replaces the profile paths (and needs no variables)', () => {
  const r = resolveServer(cfg({ game: 'rust', saveDir: '/srv/rust-save' }), profile('rust'), linux);
  assert.deepEqual(r.savePaths, ['/srv/rust-save']);
  const w = resolveServer(cfg({ game: 'valheim', saveDir: 'E:/worlds//valheim/' }), profile('valheim'), windows);
  assert.deepEqual(w.savePaths, ['E:\\worlds\\valheim'], 'normalised, without the trailing separator');
});

test('a missing installDir names the server and the variable', () => {
  const err = resolveError(() => resolveServer(cfg({ game: 'rust' }), profile('rust'), linux));
  assert.equal(err.serverId, 'srv1');
  assert.equal(err.variable, 'installDir');
  assert.match(err.message, /^server "srv1": profile rust saves\.paths\.linux\.0 uses \$\{installDir\}; set installDir/);
});

test('an unknown variable names the server and the variable', () => {
  const p = mergeProfile(profile('valheim'), { saves: { paths: { linux: ['${home}/worlds/${world2}'] } } });
  const err = resolveError(() => resolveServer(cfg({ game: 'valheim' }), p, linux));
  assert.equal(err.variable, 'world2');
  assert.match(err.message, /server "srv1": .*unknown variable \$\{world2\}; set vars\.world2/);
  assert.deepEqual(resolveServer(cfg({ game: 'valheim', vars: { world2: 'w' } }), p, linux).savePaths, ['/home/steam/worlds/w']);
});

test('${appData} on Linux is explained, not silently empty', () => {
  const p = mergeProfile(profile('7dtd'), { saves: { paths: { linux: ['${appData}/7DaysToDie'] } } });
  const err = resolveError(() => resolveServer(cfg({ game: '7dtd' }), p, linux));
  assert.match(err.message, /only exists on Windows/);
});

test('a game port that pushes the query port out of range is an error', () => {
  const err = resolveError(() => resolveServer(cfg({ game: 'rust', installDir: '/opt/rust', gamePort: 65535 }), profile('rust'), linux));
  assert.match(err.message, /outside 1-65535/);
});

test('start: managed; a relative command resolves against cwd or installDir; bare names stay for PATH', () => {
  const a = resolveServer(cfg({ game: 'valheim', installDir: '/opt/valheim', start: { command: './valheim_server.x86_64', args: ['-public', '1'], env: { SteamAppId: '892970' } } }), profile('valheim'), linux);
  assert.equal(a.managed, true);
  assert.deepEqual(a.start, { command: '/opt/valheim/valheim_server.x86_64', args: ['-public', '1'], cwd: '/opt/valheim', env: { SteamAppId: '892970' } });
  const b = resolveServer(cfg({ game: 'minecraft', installDir: '/srv/mc', start: { command: 'java', args: ['-jar', 'server.jar', 'nogui'], cwd: '/srv/mc/run' } }), profile('minecraft'), linux);
  assert.deepEqual([b.start?.command, b.start?.cwd], ['java', '/srv/mc/run']);
  const w = resolveServer(cfg({ game: 'ark', installDir: 'D:\\ark', start: { command: 'ShooterGame\\Binaries\\Win64\\ShooterGameServer.exe' } }), profile('ark'), windows);
  assert.equal(w.start?.command, 'D:\\ark\\ShooterGame\\Binaries\\Win64\\ShooterGameServer.exe');
  assert.equal(w.start?.cwd, 'D:\\ark');
  const err = resolveError(() => resolveServer(cfg({ game: 'valheim', start: { command: './valheim_server.x86_64' } }), profile('valheim'), linux));
  assert.match(err.message, /start\.command ".\/valheim_server.x86_64" is relative; set start\.cwd or installDir/);
});

test('adopt.processName replaces the profile process names', () => {
  const r = resolveServer(cfg({ game: 'minecraft', installDir: '/srv/mc', adopt: { processName: 'paper' } }), profile('minecraft'), linux);
  assert.deepEqual(r.processNames, ['paper']);
  assert.deepEqual(resolveServer(cfg({ game: 'minecraft', installDir: 'C:\\mc' }), profile('minecraft'), windows).processNames, ['java.exe', 'javaw.exe']);
});

test('Project Zomboid: serverName var in several roots', () => {
  const r = resolveServer(cfg({ game: 'pzomboid', vars: { serverName: 'pzmain' } }), profile('pzomboid'), linux);
  assert.deepEqual(r.savePaths, ['/home/steam/Zomboid/Saves/Multiplayer/pzmain', '/home/steam/Zomboid/Server', '/home/steam/Zomboid/db']);
});
