import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { zipSync, type Zippable } from 'fflate';
import * as tar from 'tar';
import { hubOnlyModulePlugin, lazyOptionalPackagePlugin, optionalRuntimePackages, zodEnglishOnlyPlugin } from './bundle-lazy.ts';
import { thirdPartyNotices } from './bundle-licenses.ts';
import { bundleReadme, shLauncher } from './bundle-files.ts';
import { compileWindowsLauncher } from './bundle-windows.ts';
import { banner, entrySource } from './bundle-runtime.ts';

/**
 * `npm run bundle`: the agent as dist/reconsync-agent-<version>.tar.gz and .zip,
 * runnable anywhere Node 20+ is installed, with no npm install:
 *
 *   reconsync-agent-<version>/
 *     reconsync.js              the CLI's entry (esbuild, ESM; bundle-runtime.ts)
 *     lib/*.js                  the CLI's modules, in chunks loaded on first use (esbuild splitting)
 *     package.json              {"type": "module"} so Node 20 loads the .js files as ESM
 *     reconsync, reconsync.exe  launchers (sh; Windows, compiled with mono's mcs: no batch
 *                               file, see deploy/windows/launcher/ReconSyncCli.cs)
 *     zstd-wasm.cjs, zstd.wasm  @bokuweb/zstd-wasm for the backup workers (see below)
 *     pino-*.cjs, thread-stream-worker.cjs   pino's transport workers (pretty logs in a TTY)
 *     games/*.yaml              the game profiles (games/loader.ts looks in <bundle>/games)
 *     deploy/                   the agent's systemd units, install.sh, Windows service, example agent.yaml
 *     README.md, THIRD-PARTY-NOTICES.txt
 *
 * Assets that the ESM chunks cannot hold:
 * - @bokuweb/zstd-wasm reads zstd.wasm from its own __dirname, inside worker threads
 *   that `require()` it by path (agent/backup/compress.ts). It is bundled on its own
 *   as CommonJS (where __dirname is real) next to zstd.wasm, and the entry (bundle-runtime.ts) points
 *   RECONSYNC_ZSTD_ENTRY at it.
 * - pino starts transports in worker threads from files it resolves at run time;
 *   its documented hook, globalThis.__bundlerPathsOverrides, points them at
 *   bundled copies.
 * - The hub, its store commands and the demo are left out (hubOnlyModules in
 *   bundle-lazy.ts): each becomes a stub that says to run them from a checkout or
 *   the container. better-sqlite3 (native, hub-only) stays a lazy shim as a safety
 *   net, and the build fails if the agent's static import graph reaches it.
 */

/**
 * Packages the agent may import only dynamically (checked like the hub-only ones):
 * gamedig is ~30 MiB once loaded (query.kind gamedig only); execa ~4 MiB with the
 * node internals it pulls in, needed only when the agent runs a program (lib/execa-lazy.ts);
 * fzstd, and xxhash-wasm to check its content checksum, only once a restore or verify meets
 * a big zstd frame (agent/backup/zstd-stream.ts).
 */
const agentLazyPackages = ['gamedig', 'execa', 'fzstd', 'xxhash-wasm'] as const;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface BundleOptions {
  /** CLI entry; the real one is cli/main.ts (tests may bundle a small one). */
  entry: string;
  /** Where the .tar.gz and .zip go. */
  outDir: string;
  /** Repository root: package.json, games/, deploy/, node_modules/. */
  rootDir: string;
  /** Defaults to package.json's version. */
  version?: string;
  /** Modules that must never statically import a hub-only package (checked on the metafile). */
  agentRoots: string[];
  minify: boolean;
  /** Keep the unpacked folder (its path is in the result) instead of deleting it. */
  keepStaging: boolean;
  /** C# compiler for reconsync.exe (mono's mcs, looked up on PATH). */
  csharpCompiler: string;
}

export const DefaultBundleOptions = {
  entry: path.join(repoRoot, 'cli', 'main.ts'),
  outDir: path.join(repoRoot, 'dist'),
  rootDir: repoRoot,
  agentRoots: ['agent/main.ts'],
  minify: false,
  keepStaging: false,
  csharpCompiler: 'mcs',
} as const satisfies Omit<BundleOptions, 'version'>;

export interface BundleResult {
  version: string;
  /** Top folder inside both archives. */
  folder: string;
  tarball: string;
  zip: string;
  /** Paths inside the folder, sorted. */
  files: string[];
  /** Size of the CLI's JavaScript (reconsync.js and lib/*.js) in bytes. */
  bundleBytes: number;
  /** The unpacked folder when keepStaging, else null. */
  stagingDir: string | null;
}

/** Files the workers and wasm need, bundled separately as CommonJS next to reconsync.js. */
const SIDE_ENTRIES: Record<string, string> = {
  'zstd-wasm': '@bokuweb/zstd-wasm',
  'thread-stream-worker': 'thread-stream/lib/worker.js',
  'pino-worker': 'pino/lib/worker.js',
  'pino-file': 'pino/file.js',
  'pino-pretty': 'pino-pretty',
};

/**
 * Deploy files that make sense next to the bundle: not the TypeScript, and nothing
 * of the hub (its image, unit and example config), which the bundle cannot run.
 */
const DEPLOY_EXCLUDE = /(\.ts$|^Dockerfile$|^compose\.yaml$|^docker$|^reconsync-hub\.service$|^hub\.yaml$)/;

/** Fails when a hub-only package is reachable from an agent module through static imports. */
export function assertNotReachable(metafile: esbuild.Metafile, roots: string[], forbidden: string[]): void {
  const inputs = metafile.inputs;
  const isForbidden = (p: string) => forbidden.some((f) => p === f || p.includes(`node_modules/${f}/`) || p.endsWith(`:${f}`));
  for (const root of roots) {
    if (!inputs[root]) continue;
    const parent = new Map<string, string>([[root, '']]);
    const queue = [root];
    while (queue.length) {
      const cur = queue.shift()!;
      for (const imp of inputs[cur]?.imports ?? []) {
        if (imp.kind === 'dynamic-import') continue;
        const target = imp.path;
        if (isForbidden(target) || isForbidden(imp.original ?? '')) {
          const chain = [target];
          for (let p: string | undefined = cur; p; p = parent.get(p)) chain.unshift(p);
          throw new Error(`the agent must not load ${imp.original ?? target} (hub-only or too large to load at start): ${chain.join(' -> ')}. Import it lazily (await import) where it is used.`);
        }
        if (!parent.has(target) && inputs[target]) {
          parent.set(target, cur);
          queue.push(target);
        }
      }
    }
  }
}

/**
 * lib/chunks.txt names this version's own chunks. An agent still running while install.sh
 * swaps the program folder (--no-start, a failed config check) reads its chunks on first
 * use by their old hashed names: install.sh carries the old version's listed chunks into
 * the new folder, one generation only, since the new list names just its own.
 */
async function writeChunkList(stage: string): Promise<void> {
  const chunks = (await readdir(path.join(stage, 'lib'))).filter((f) => /^chunk-[A-Za-z0-9_-]+\.js$/.test(f)).sort();
  await writeFile(path.join(stage, 'lib', 'chunks.txt'), chunks.map((c) => `${c}\n`).join(''));
}

async function readVersion(rootDir: string): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(rootDir, 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error(`${rootDir}/package.json has no version`);
  return pkg.version;
}

async function listFiles(dir: string, base = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, base), { withFileTypes: true })) {
    const rel = base ? `${base}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

async function buildMain(o: BundleOptions, version: string, stage: string): Promise<esbuild.Metafile> {
  const entry = path.resolve(o.rootDir, o.entry);
  const result = await esbuild.build({
    stdin: { contents: entrySource(entry), resolveDir: o.rootDir, sourcefile: 'reconsync-bundle-entry.js', loader: 'js' },
    outdir: stage,
    entryNames: 'reconsync',
    // Every dynamic import() becomes a chunk that node reads when it runs (bundle-runtime.ts).
    splitting: true,
    chunkNames: 'lib/chunk-[hash]',
    absWorkingDir: o.rootDir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: o.minify,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    banner: { js: banner() },
    define: { __RECONSYNC_VERSION__: JSON.stringify(version) },
    // ws's optional native speedups: loaded in try/catch, absent is fine.
    external: ['bufferutil', 'utf-8-validate'],
    plugins: [lazyOptionalPackagePlugin(optionalRuntimePackages), hubOnlyModulePlugin(o.rootDir), zodEnglishOnlyPlugin()],
  });
  assertNotReachable(result.metafile, o.agentRoots, [...optionalRuntimePackages, ...agentLazyPackages]);
  for (const out of Object.keys(result.metafile.outputs)) await asciiOnly(path.resolve(o.rootDir, out));
  return result.metafile;
}

/**
 * esbuild escapes non-ASCII in code (charset ascii) but keeps comments as written, and
 * one "—" in a comment makes V8 hold the whole 4 MB source as a two-byte string: 8 MiB
 * of an idle agent's heap instead of 4. What is left outside ASCII is comment text,
 * so escaping it changes no behaviour.
 */
async function asciiOnly(file: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  if (!/[^\x00-\x7f]/.test(text)) return;
  await writeFile(file, text.replace(/[^\x00-\x7f]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`));
}

async function buildSideEntries(o: BundleOptions, stage: string): Promise<esbuild.Metafile[]> {
  const req = createRequire(path.join(o.rootDir, 'package.json'));
  const metas: esbuild.Metafile[] = [];
  for (const [name, spec] of Object.entries(SIDE_ENTRIES)) {
    const result = await esbuild.build({
      entryPoints: [req.resolve(spec)],
      outfile: path.join(stage, `${name}.cjs`),
      absWorkingDir: o.rootDir,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: o.minify,
      legalComments: 'none',
      metafile: true,
      logLevel: 'silent',
    });
    metas.push(result.metafile);
  }
  // zstd-wasm.cjs reads ./zstd.wasm relative to itself.
  const wasm = path.join(path.dirname(req.resolve('@bokuweb/zstd-wasm')), 'zstd.wasm');
  await copyFile(wasm, path.join(stage, 'zstd.wasm'));
  await chmod(path.join(stage, 'zstd.wasm'), 0o644);
  return metas;
}

async function copyAssets(o: BundleOptions, version: string, stage: string): Promise<void> {
  await mkdir(path.join(stage, 'games'), { recursive: true });
  for (const f of (await readdir(path.join(o.rootDir, 'games'))).filter((n) => n.endsWith('.yaml'))) {
    await copyFile(path.join(o.rootDir, 'games', f), path.join(stage, 'games', f));
  }
  await cp(path.join(o.rootDir, 'deploy'), path.join(stage, 'deploy'), {
    recursive: true,
    filter: (src) => !DEPLOY_EXCLUDE.test(path.basename(src)),
  });
  const pkg = { name: 'reconsync-agent', version, private: true, type: 'module', engines: { node: '>=20' } };
  await writeFile(path.join(stage, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await writeFile(path.join(stage, 'README.md'), bundleReadme(version));
  await writeFile(path.join(stage, 'reconsync'), shLauncher());
  await compileWindowsLauncher(o.rootDir, path.join(stage, 'reconsync.exe'), o.csharpCompiler);
  await chmod(path.join(stage, 'reconsync.exe'), 0o644);
  await chmod(path.join(stage, 'reconsync'), 0o755);
  await chmod(path.join(stage, 'deploy', 'install.sh'), 0o755).catch(() => undefined);
}

async function writeZip(stageParent: string, folder: string, files: string[], zipPath: string): Promise<void> {
  const entries: Zippable = {};
  for (const rel of files) {
    const abs = path.join(stageParent, folder, rel);
    const mode = (await stat(abs)).mode & 0o777;
    // os 3 = Unix, so unzip restores the executable bit of the launchers; 0o100000 = regular file.
    entries[`${folder}/${rel}`] = [await readFile(abs), { os: 3, attrs: ((0o100000 | mode) << 16) >>> 0, level: 9 }];
  }
  await writeFile(zipPath, zipSync(entries));
}

export async function buildAgentBundle(options: Partial<BundleOptions> = {}): Promise<BundleResult> {
  const o: BundleOptions = { ...DefaultBundleOptions, ...options, agentRoots: [...(options.agentRoots ?? DefaultBundleOptions.agentRoots)] };
  const version = o.version ?? (await readVersion(o.rootDir));
  const folder = `reconsync-agent-${version}`;
  const stageParent = await mkdtemp(path.join(os.tmpdir(), 'reconsync-bundle-'));
  const stage = path.join(stageParent, folder);
  try {
    await mkdir(stage, { recursive: true });
    const mainMeta = await buildMain(o, version, stage);
    await writeChunkList(stage);
    const sideMetas = await buildSideEntries(o, stage);
    await copyAssets(o, version, stage);
    await writeFile(path.join(stage, 'THIRD-PARTY-NOTICES.txt'), await thirdPartyNotices(o.rootDir, [mainMeta, ...sideMetas]));

    const files = await listFiles(stage);
    await mkdir(o.outDir, { recursive: true });
    const tarball = path.join(o.outDir, `${folder}.tar.gz`);
    const zip = path.join(o.outDir, `${folder}.zip`);
    // portable: no uid/gid/user names of the build machine in the archive.
    await tar.c({ gzip: true, file: tarball, cwd: stageParent, portable: true }, files.map((f) => `${folder}/${f}`));
    await writeZip(stageParent, folder, files, zip);
    let bundleBytes = 0;
    for (const f of files.filter((n) => n.endsWith('.js'))) bundleBytes += (await stat(path.join(stage, f))).size;
    return { version, folder, tarball, zip, files, bundleBytes, stagingDir: o.keepStaging ? stage : null };
  } finally {
    if (!o.keepStaging) await rm(stageParent, { recursive: true, force: true });
  }
}

async function cli(argv: string[]): Promise<number> {
  const opts: Partial<BundleOptions> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      return path.resolve(v);
    };
    if (a === '--out') opts.outDir = value();
    else if (a === '--entry') opts.entry = value();
    else if (a === '--minify') opts.minify = true;
    else throw new Error(`usage: node --import tsx tools/bundle.ts [--out dir] [--entry file] [--minify] (unknown ${a})`);
  }
  const r = await buildAgentBundle(opts);
  process.stdout.write(`reconsync.js + lib/: ${(r.bundleBytes / 1024).toFixed(0)} KiB, ${r.files.length} files\n${r.tarball}\n${r.zip}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  cli(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      const e = err as { errors?: esbuild.Message[]; message?: string };
      const details = e.errors?.map((m) => `  ${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`).join('\n');
      process.stderr.write(`bundle failed: ${e.message ?? String(err)}${details ? `\n${details}` : ''}\n`);
      process.exitCode = 1;
    },
  );
}
