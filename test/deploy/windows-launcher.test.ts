import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { quoteWindowsArg } from '../../agent/platform/windows-cmdline.ts';
import { compileWindowsLauncher, windowsLauncherSource } from '../../tools/bundle-windows.ts';
import { parseWindowsCommandLine } from '../agent/windows-cmdline-oracle.ts';

// reconsync.exe (deploy/windows/launcher/ReconSyncCli.cs) hands its own command line, minus
// its name, to node unchanged. Windows cannot run here: its pure parts run under mono
// through a harness, and node's split of the result is checked with the MSVC-rule oracle.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const source = path.join(repo, ...windowsLauncherSource);
const mcs = ['/usr/bin/mcs', '/usr/local/bin/mcs'].find((p) => existsSync(p));
const mono = ['/usr/bin/mono', '/usr/local/bin/mono'].find((p) => existsSync(p));
const skip = mcs && mono ? false : 'mono-mcs is not installed (apt-get install mono-mcs mono-runtime)';

interface Run { code: number; stdout: string; stderr: string }
function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, ...opts }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

async function scratch(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-winlauncher-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// Command lines travel as base64 lines (UTF-8), so line breaks and any character survive.
const harness = `
using System;
using System.IO;
using System.Text;
using ReconSync;
namespace Harness
{
  static class Program
  {
    static string Decode(string s) { return Encoding.UTF8.GetString(Convert.FromBase64String(s)); }
    static int Main(string[] args)
    {
      if (args[0] == "node-args")
      {
        foreach (string line in File.ReadAllLines(args[2]))
          Console.WriteLine(Convert.ToBase64String(Encoding.UTF8.GetBytes(CliLauncher.NodeArguments(args[1], Decode(line)))));
        return 0;
      }
      try { Console.WriteLine(CliLauncher.FindNode(args[1] == "-" ? null : args[1], args[2])); }
      catch (FileNotFoundException e) { Console.WriteLine("error: " + e.Message); }
      return 0;
    }
  }
}
`;

const exeName = '"C:\\Program Files\\ReconSync\\reconsync.exe"';
const nodeExe = 'C:\\Program Files\\nodejs\\node.exe';
const script = 'C:\\Program Files\\Re&Sync^ (x86)\\reconsync.js';

/** What operators pass: every cmd.exe special character, quotes, blanks, backslashes, empty, non-ASCII. */
const hostile: string[][] = [
  ['config', 'check', '--config', 'C:\\a&b^c\\agent.yaml'],
  ['a&calc', 'x|y', '<in', '>out', '2>&1', '^', '^^', '^&'],
  ['%PATH%', '%%', '!x!', '!', '%CMDCMDLINE:~-1%&calc.exe'],
  ['say "hi"', '"', '""', 'a"b', '\\"', 'a\\\\"b'],
  ['C:\\dir with space\\', 'C:\\trailing\\', '\\\\server\\share\\', 'a\\b\\\\'],
  ['', 'x', '', ' ', '\t', 'two  spaces'],
  ['Välheim wörld', '世界', '🎮 game', 'line\nbreak'],
  ['--config=C:\\x y\\agent.yaml', '(paren)', ';', ',', '='],
];

/** Lines as a person types them (after their shell's own parse), not built by a quoter. */
const typed = [
  'reconsync config check --config "C:\\a&b^c\\agent.yaml"',
  'reconsync.exe\t\t--config="C:\\Program Files\\x"\\y  a""b "a""b" "x\\"y" tail\\\\',
  '"C:\\Program Files\\ReconSync\\reconsync.exe"',
  '"C:\\a b"\\reconsync.exe  "" x',
];

test('reconsync.exe passes its arguments to node unchanged: hostile characters, quotes, backslashes, empty, unicode', { skip }, async (t) => {
  const dir = await scratch(t);
  const exe = path.join(dir, 'harness.exe');
  await writeFile(path.join(dir, 'Harness.cs'), harness);
  const compiled = await run(mcs!, ['-langversion:5', '-target:exe', `-out:${exe}`, '-main:Harness.Program', source, path.join(dir, 'Harness.cs')]);
  assert.equal(compiled.code, 0, compiled.stdout + compiled.stderr);

  const lines = [...hostile.map((args) => [exeName, ...args.map(quoteWindowsArg)].join(' ')), ...typed];
  await writeFile(path.join(dir, 'lines.txt'), lines.map((l) => Buffer.from(l).toString('base64')).join('\n'));
  const r = await run(mono!, [exe, 'node-args', script, path.join(dir, 'lines.txt')]);
  assert.equal(r.code, 0, r.stderr);
  const nodeArgs = r.stdout.trim().split('\n').map((l) => Buffer.from(l, 'base64').toString());
  assert.equal(nodeArgs.length, lines.length);

  for (const [i, line] of lines.entries()) {
    // What node's C runtime splits on Windows: its own path, the script, then the operator's arguments.
    const nodeLine = `${quoteWindowsArg(nodeExe)} ${nodeArgs[i]}`;
    const argv = parseWindowsCommandLine(nodeLine);
    assert.deepEqual(argv.slice(0, 2), [nodeExe, script], line);
    const expected = i < hostile.length ? hostile[i]! : parseWindowsCommandLine(line).slice(1);
    assert.deepEqual(argv.slice(2), expected, line);
    // No second parse, no re-quoting: the text after the program name is carried byte for byte.
    const tail = line.replace(/^("[^"]*"|[^ \t"])+[ \t]*/, '');
    assert.equal(nodeArgs[i], tail ? `"${script}" ${tail}` : `"${script}"`, line);
  }
  assert.deepEqual(parseWindowsCommandLine(nodeArgs[hostile.length]!).slice(1), ['config', 'check', '--config', 'C:\\a&b^c\\agent.yaml']);
});

test('reconsync.exe finds node: NODE, else absolute PATH entries only (never the current folder), with a message that says what to do', { skip }, async (t) => {
  const dir = await scratch(t);
  const exe = path.join(dir, 'harness.exe');
  await writeFile(path.join(dir, 'Harness.cs'), harness);
  const compiled = await run(mcs!, ['-langversion:5', '-target:exe', `-out:${exe}`, '-main:Harness.Program', source, path.join(dir, 'Harness.cs')]);
  assert.equal(compiled.code, 0, compiled.stdout + compiled.stderr);
  // The operator stands in a folder that holds a node.exe (a planted one); PATH names it relatively too.
  const cwd = path.join(dir, 'cwd');
  for (const d of ['cwd/bin', 'a', 'b']) await mkdir(path.join(dir, d), { recursive: true });
  for (const f of ['cwd/node.exe', 'cwd/bin/node.exe', 'b/node.exe', 'b/custom.exe']) await writeFile(path.join(dir, f), '');
  const find = async (node: string, pathVar: string) => (await run(mono!, [exe, 'find', node, pathVar], { cwd })).stdout.trim();

  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  assert.equal(await find('-', `bin;.;;"${a}";"${b}";${path.join(dir, 'cwd')}`), path.join(b, 'node.exe'));
  assert.equal(await find('-', `bin;.;${a}`), 'error: node.exe was not found on PATH: install Node.js 20 or newer, or set NODE=C:\\path\\to\\node.exe');
  assert.equal(await find('custom', `${a};${b}`), path.join(b, 'custom.exe'));
  assert.equal(await find(path.join(a, 'node.exe'), b), `error: NODE=${path.join(a, 'node.exe')} does not exist: set NODE to node.exe's full path, or unset it to use node.exe on PATH`);
  assert.equal(await find(path.join(b, 'node.exe'), ''), path.join(b, 'node.exe'));
  assert.equal(await find('C:\\nvm\\node.CMD', b), 'error: NODE=C:\\nvm\\node.CMD is a batch file, which would parse the arguments a second time: set NODE to node.exe itself');
});

test('reconsync.exe runs reconsync.js beside it with node, shares stdout/stderr and returns node\'s exit code', { skip }, async (t) => {
  const dir = await scratch(t);
  const exe = path.join(dir, 'reconsync.exe');
  const compiled = await run(mcs!, ['-langversion:5', '-target:exe', `-out:${exe}`, source]);
  assert.equal(compiled.code, 0, compiled.stdout + compiled.stderr);
  await writeFile(path.join(dir, 'reconsync.js'), "process.stdout.write(JSON.stringify(process.argv.slice(2))); process.stderr.write('to stderr'); process.exit(7);\n");
  // mono on Linux builds its command line and splits node's arguments its own way (backslashes
  // are escapes there), so only plain arguments say something here; the split is tested above.
  const r = await run(mono!, [exe, 'config', 'check', 'a b'], { cwd: os.tmpdir(), env: { PATH: '/usr/bin:/bin', NODE: process.execPath } });
  assert.deepEqual(r, { code: 7, stdout: '["config","check","a b"]', stderr: 'to stderr' });
  const missing = await run(mono!, [exe, '--version'], { cwd: os.tmpdir(), env: { PATH: '/usr/bin:/bin' } });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /node\.exe was not found on PATH: install Node\.js 20 or newer, or set NODE=/);
});

test('building the bundle without mono\'s compiler says what to install', async (t) => {
  const dir = await scratch(t);
  await assert.rejects(compileWindowsLauncher(repo, path.join(dir, 'reconsync.exe'), path.join(dir, 'no-mcs')),
    /building reconsync\.exe \(the Windows launcher\) needs mono's C# compiler, .*no-mcs, which is not installed: apt-get install mono-mcs/);
});
