#!/usr/bin/env node
// A stand-in for Valve's SteamCMD, for tests and the demo (games.md "SteamCMD").
// It parses the real command line (`+cmd args... +cmd ...`), prints the real
// console text (self-update banner on first run, `Update state (0x61)
// downloading, progress: …` lines, `Success! App '…' fully installed.`, the
// error lines with their unreliable exit codes), answers
// `+app_info_update 1 +app_info_print <id>` with a KeyValues tree, and writes
// `steamapps/appmanifest_<id>.acf` into the forced install folder.
//
// Plain JavaScript on purpose: it is run as a program (on PATH as `steamcmd`)
// from any working folder, where `--import tsx` would not resolve.
//
// What "Steam" holds and which failure happens next come from a JSON control
// file (env STEAMCMD_SIM_CONTROL), re-read on every run:
//   {
//     "apps": { "376030": { "name": "...", "sizeBytes": 65536,
//                "branches": { "public": { "buildid": "100", "timeupdated": 1700000000 },
//                              "beta": { "buildid": "101", "pwd": "secret" } } } },
//     "builds": { "101": { "crash": true } },         // this build crashes when the game starts
//     "staleAppInfo": true,                          // app_info_update keeps an existing cache file
//     "failures": [ { "op": "app_update", "kind": "0x402" }, ... ]   // consumed one per matching run
//   }
// failure kinds: 0x202 (disk), 0x402, 0x602 (transient), nosub, timeout, hang,
// and `touch: true` makes app_update change the game files before failing;
// a hang with `afterInstall: true` installs the build fully, then never exits.
// The Steam folder (appcache, logs, first-run marker) is env STEAMCMD_SIM_HOME
// (default ~/Steam). Every run is appended to <home>/calls.jsonl.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const home = process.env.STEAMCMD_SIM_HOME ?? path.join(os.homedir(), 'Steam');
const controlFile = process.env.STEAMCMD_SIM_CONTROL;
const stepMs = Number(process.env.STEAMCMD_SIM_STEP_MS ?? '5');
/** Name of the file in the install folder the simulated game reads its build from. */
const BUILD_MARKER = 'reconsync-sim-build.json';

const out = (line) => process.stdout.write(`${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readControl() {
  if (!controlFile || !existsSync(controlFile)) return { apps: {}, builds: {}, failures: [] };
  const c = JSON.parse(readFileSync(controlFile, 'utf8'));
  return { apps: c.apps ?? {}, builds: c.builds ?? {}, failures: c.failures ?? [], staleAppInfo: c.staleAppInfo === true };
}

/** Takes the first queued failure for this operation out of the control file. */
function takeFailure(control, op) {
  const i = control.failures.findIndex((f) => (f.op ?? 'app_update') === op);
  if (i < 0) return null;
  const [f] = control.failures.splice(i, 1);
  const raw = JSON.parse(readFileSync(controlFile, 'utf8'));
  raw.failures = control.failures;
  writeFileSync(controlFile, JSON.stringify(raw, null, 2));
  return f;
}

/** `+a x y +b z` → [{cmd:'a', args:['x','y']}, {cmd:'b', args:['z']}]; tokens before the first `+` are ignored, as the real one does. */
function parseScript(argv) {
  const cmds = [];
  for (const tok of argv) {
    if (tok.startsWith('+')) cmds.push({ cmd: tok.slice(1).toLowerCase(), args: [] });
    else if (cmds.length > 0) cmds.at(-1).args.push(tok);
  }
  return cmds;
}

async function selfUpdateBanner() {
  const marker = path.join(home, 'package', 'steam_cmd_linux.installed');
  out(`Redirecting stderr to '${path.join(home, 'logs', 'stderr.txt')}'`);
  out('[  0%] Checking for available updates...');
  if (!existsSync(marker)) {
    out('[----] Downloading update (0 of 40,817 KB)...');
    await sleep(stepMs);
    out('[ 50%] Downloading update (20,408 of 40,817 KB)...');
    await sleep(stepMs);
    out('[100%] Download Complete.');
    out('[----] Applying update...');
    out('[----] Extracting package...');
    out('[----] Installing update...');
    out('[----] Cleaning up...');
    out('[----] Update complete, launching Steamcmd...');
    mkdirSync(path.dirname(marker), { recursive: true });
    writeFileSync(marker, 'installed\n');
    out(`Redirecting stderr to '${path.join(home, 'logs', 'stderr.txt')}'`);
    out('[  0%] Checking for available updates...');
  }
  out('[----] Verifying installation...');
  out('Steam Console Client (c) Valve Corporation - version 1716242052');
  out("-- type 'quit' to exit --");
  out('Loading Steam API...OK');
}

const kv = (depth, k, v) => `${'\t'.repeat(depth)}"${k}"\t\t"${v}"`;

function appInfoText(appId, app) {
  const lines = [`"${appId}"`, '{', kv(1, 'appid', appId), '\t"common"', '\t{', kv(2, 'name', app.name ?? `App ${appId}`), kv(2, 'type', 'Tool'), '\t}', '\t"depots"', '\t{', kv(2, 'baselanguages', 'english'), '\t\t"branches"', '\t\t{'];
  for (const [name, b] of Object.entries(app.branches ?? {})) {
    lines.push(`\t\t\t"${name}"`, '\t\t\t{', kv(4, 'buildid', b.buildid), kv(4, 'timeupdated', b.timeupdated ?? 1700000000));
    if (b.pwd) lines.push(kv(4, 'pwdrequired', '1'));
    lines.push('\t\t\t}');
  }
  lines.push('\t\t}', '\t}', '}');
  return lines.join('\n');
}

function manifestText(appId, app, buildid, branch, flags) {
  const lines = ['"AppState"', '{', kv(1, 'appid', appId), kv(1, 'Universe', 1), kv(1, 'name', app.name ?? `App ${appId}`), kv(1, 'StateFlags', flags),
    kv(1, 'installdir', app.installdir ?? `app${appId}`), kv(1, 'LastUpdated', Math.floor(Date.now() / 1000)), kv(1, 'SizeOnDisk', app.sizeBytes ?? 65536),
    kv(1, 'StagingSize', 0), kv(1, 'buildid', buildid), kv(1, 'LastOwner', 0), kv(1, 'UpdateResult', 0), kv(1, 'BytesToDownload', 0),
    kv(1, 'BytesDownloaded', 0), kv(1, 'AutoUpdateBehavior', 0), kv(1, 'AllowOtherDownloadsWhileRunning', 0), kv(1, 'ScheduledAutoUpdate', 0),
    '\t"InstalledDepots"', '\t{', '\t}', '\t"UserConfig"', '\t{'];
  if (branch !== 'public') lines.push(kv(2, 'betakey', branch));
  lines.push('\t}', '\t"MountedConfig"', '\t{');
  if (branch !== 'public') lines.push(kv(2, 'betakey', branch));
  lines.push('\t}', '}', '');
  return lines.join('\n');
}

/** What the game files look like for a build: a marker the simulated game reads, and a payload. */
function writeBuild(dir, appId, buildid, control, size) {
  writeFileSync(path.join(dir, BUILD_MARKER), `${JSON.stringify({ appId, buildid, crash: control.builds[buildid]?.crash === true })}\n`);
  writeFileSync(path.join(dir, 'game.bin'), Buffer.alloc(Math.min(size, 1 << 20), `build ${buildid}\n`));
}

async function hang() {
  // A SteamCMD stuck on the network: the caller's timeout has to end it.
  setInterval(() => undefined, 1 << 30);
  await new Promise(() => undefined);
}

async function appUpdate(state, args) {
  const control = readControl();
  const appId = args[0];
  const beta = args.indexOf('-beta') >= 0 ? args[args.indexOf('-beta') + 1] : 'public';
  const pw = args.indexOf('-betapassword') >= 0 ? args[args.indexOf('-betapassword') + 1] : undefined;
  const validate = args.includes('validate');
  const app = control.apps[appId];
  if (!state.loggedIn) {
    out('ERROR! Not logged on.');
    return 0;
  }
  if (!app) {
    out(`ERROR! Failed to install app '${appId}' (No subscription)`);
    return 0;
  }
  const branch = app.branches?.[beta];
  if (!branch || (branch.pwd && branch.pwd !== pw)) {
    out(`ERROR! Failed to install app '${appId}' (Invalid Password)`);
    return 0;
  }
  const dir = state.installDir ?? path.join(home, 'steamapps', 'common', app.installdir ?? `app${appId}`);
  const manifest = path.join(dir, 'steamapps', `appmanifest_${appId}.acf`);
  const installed = existsSync(manifest) ? /"buildid"\s+"(\d+)"/.exec(readFileSync(manifest, 'utf8'))?.[1] : undefined;
  const failure = takeFailure(control, 'app_update');
  if (failure?.kind === 'nosub') {
    out(`ERROR! Failed to install app '${appId}' (No subscription)`);
    return 0;
  }
  if (failure?.kind === 'timeout') {
    out('ERROR! Timed out waiting for AppInfo update.');
    return 7;
  }
  if (failure?.kind === 'hang' && !failure.afterInstall) return hang();
  if (installed === String(branch.buildid) && !validate && !failure) {
    out(`Success! App '${appId}' already up to date.`);
    return 0;
  }
  const size = Number(app.sizeBytes ?? 65536);
  mkdirSync(path.join(dir, 'steamapps'), { recursive: true });
  out(' Update state (0x3) reconfiguring, progress: 0.00 (0 / 0)');
  const stopAt = failure && failure.kind !== 'hang' ? Number(failure.atPercent ?? 45) : 100;
  for (let pct = 0; pct <= stopAt; pct += 15) {
    const done = Math.floor((size * pct) / 100);
    out(` Update state (0x61) downloading, progress: ${pct.toFixed(2)} (${done} / ${size})`);
    await sleep(stepMs);
  }
  if (failure && failure.kind !== 'hang') {
    if (failure.touch) {
      // SteamCMD has started replacing files: the folder is now neither build.
      writeFileSync(path.join(dir, 'game.bin'), `half of build ${branch.buildid}\n`);
      writeFileSync(path.join(dir, BUILD_MARKER), `${JSON.stringify({ appId, buildid: `${branch.buildid}-partial`, crash: true })}\n`);
      writeFileSync(manifest, manifestText(appId, app, installed ?? '0', beta, 1026));
    }
    out(`Error! App '${appId}' state is ${failure.kind} after update job.`);
    return failure.kind === '0x202' ? 8 : 0;
  }
  out(` Update state (0x61) downloading, progress: 100.00 (${size} / ${size})`);
  if (validate) out(` Update state (0x81) verifying update, progress: 100.00 (${size} / ${size})`);
  writeBuild(dir, appId, String(branch.buildid), control, size);
  writeFileSync(manifest, manifestText(appId, app, branch.buildid, beta, 4));
  // Installed, but the process never ends (stuck on Steam's cleanup): the caller's timeout or death decides.
  if (failure?.kind === 'hang') return hang();
  out(`Success! App '${appId}' fully installed.`);
  return 0;
}

async function appInfoPrint(state, args) {
  const appId = args[0];
  const cache = path.join(home, 'appcache', 'appinfo.vdf');
  const control = readControl();
  const failure = takeFailure(control, 'app_info');
  if (failure?.kind === 'timeout') {
    out('ERROR! Timed out waiting for AppInfo update.');
    return 0;
  }
  if (failure?.kind === 'hang') return hang();
  let apps = {};
  if (existsSync(cache)) apps = JSON.parse(readFileSync(cache, 'utf8'));
  // A fresh update fetches what Steam has; a stale cache answers with what it held before.
  if (state.appInfoUpdated && !(control.staleAppInfo && existsSync(cache))) {
    apps = control.apps;
    mkdirSync(path.dirname(cache), { recursive: true });
    writeFileSync(cache, JSON.stringify(apps));
  }
  const app = apps[appId];
  if (!app) {
    out(`No app info for AppID ${appId} found, requesting...`);
    return 0;
  }
  out(`AppID : ${appId}, change number : 22817812/0, last change : Mon Feb 19 14:24:31 2024`);
  out(appInfoText(appId, app));
  return 0;
}

async function main() {
  mkdirSync(home, { recursive: true });
  appendFileSync(path.join(home, 'calls.jsonl'), `${JSON.stringify({ argv: process.argv.slice(2), pid: process.pid, cwd: process.cwd(), at: new Date().toISOString() })}\n`);
  await selfUpdateBanner();
  const state = { installDir: undefined, loggedIn: false, appInfoUpdated: false };
  let code = 0;
  for (const { cmd, args } of parseScript(process.argv.slice(2))) {
    switch (cmd) {
      case 'force_install_dir':
        if (state.loggedIn) {
          out('Please use force_install_dir before logon!');
          break;
        }
        state.installDir = path.resolve(args[0] ?? '.');
        break;
      case 'login':
        out(args[0] === 'anonymous' ? 'Connecting anonymously to Steam Public...OK' : `Logging in user '${args[0]}' to Steam Public...OK`);
        out('Waiting for client config...OK');
        out('Waiting for user info...OK');
        state.loggedIn = true;
        break;
      case 'app_info_update':
        state.appInfoUpdated = args[0] === '1';
        break;
      case 'app_info_print':
        code = await appInfoPrint(state, args);
        break;
      case 'app_update':
        code = await appUpdate(state, args);
        break;
      case 'quit':
        out('Unloading Steam API...OK');
        return code;
      default:
        out(`Command "${cmd}" not found.`);
    }
  }
  return code;
}

process.exitCode = await main();
