/**
 * The code the agent bundle runs before any of ReconSync's own: what esbuild puts
 * at the top of every output file (banner) and the entry file itself (entrySource).
 *
 * The bundle is split (esbuild `splitting`): reconsync.js is a small entry, and the
 * modules live in lib/*.js chunks that node reads only when a command imports them.
 * An idle agent then never reads, parses or keeps the source of the hub stubs, the
 * update pipeline, restore, SteamCMD, execa or gamedig (bench/README.md, issue 14).
 */

/**
 * V8 flags for every command of the bundle, set before the CLI is imported (so before
 * most of the code is parsed). Each is read while the program runs, so setting them
 * here works; flags read only at start-up (--v8-pool-size, --max-semi-space-size)
 * would need node's command line. Measured on the idle agent (bench/README.md, issue 14):
 * - --semi-space-growth-factor=1: V8's young generation grows to 16 MiB while the CLI
 *   loads (most of what it allocates then survives) and never shrinks; kept at its
 *   initial 1 MiB semi-spaces: -11 MiB.
 * - --optimize-for-size: V8's mode for small devices (smaller heap growth steps, more
 *   compaction, less inlining): -7 MiB.
 * - --interrupt-budget 8x V8's default (67584 bytes of bytecode run between tier-up
 *   checks): code that runs once at start (zod building ~1,200 schemas, YAML, config
 *   checks) is no longer optimized by TurboFan, whose compile jobs left ~5 MiB in the
 *   worker threads' malloc arenas and paged in ~4 MiB more of node's binary. Code that
 *   stays hot is still optimized, 8x later: -4 MiB; 16x and 64x measured the same.
 * What runs hot in an agent is native or WASM (sha256, zstd in workers, the sockets):
 * backup CPU time per MiB measured the same with and without these flags.
 */
export const BundleV8Flags = ['--semi-space-growth-factor=1', '--optimize-for-size', `--interrupt-budget=${8 * 67_584}`] as const;

/**
 * Top of every output file: `require`, `__filename` and `__dirname` for bundled
 * CommonJS code (esbuild's __require helper looks for a `require` in scope). Each
 * chunk gets its own, which is what such code expects of its file.
 */
export function banner(): string {
  return [
    "import { createRequire as __rsCreateRequire } from 'node:module';",
    "import { fileURLToPath as __rsFileURLToPath } from 'node:url';",
    "import { dirname as __rsDirname } from 'node:path';",
    'const require = __rsCreateRequire(import.meta.url);',
    'const __filename = __rsFileURLToPath(import.meta.url);',
    'const __dirname = __rsDirname(__filename);',
  ].join('\n');
}

/**
 * reconsync.js: flags and asset locations first, then the CLI through a dynamic
 * import. A static import would be evaluated before this file's own statements
 * (ES modules run their imports first), so the flags would come too late.
 * The CLI module exports main(argv) (bin/reconsync.js calls it from source); an entry
 * without main() just runs on import.
 */
export function entrySource(cliEntry: string): string {
  return [
    "import { join as __rsJoin } from 'node:path';",
    "import { setFlagsFromString as __rsSetV8Flags } from 'node:v8';",
    ...BundleV8Flags.map((f) => `__rsSetV8Flags(${JSON.stringify(f)});`),
    // pino starts transports in worker threads from files it resolves at run time; its
    // documented hook points them at the bundled copies beside this file.
    'globalThis.__bundlerPathsOverrides = Object.assign({',
    "  'thread-stream-worker': __rsJoin(__dirname, 'thread-stream-worker.cjs'),",
    "  'pino-worker': __rsJoin(__dirname, 'pino-worker.cjs'),",
    "  'pino/file': __rsJoin(__dirname, 'pino-file.cjs'),",
    "  'pino-pretty': __rsJoin(__dirname, 'pino-pretty.cjs'),",
    '}, globalThis.__bundlerPathsOverrides);',
    "process.env.RECONSYNC_ZSTD_ENTRY ||= __rsJoin(__dirname, 'zstd-wasm.cjs');",
    `const cli = await import(${JSON.stringify(cliEntry)});`,
    "if (typeof cli.main === 'function') process.exitCode = await cli.main(process.argv.slice(2));",
  ].join('\n');
}
