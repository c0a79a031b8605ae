import path from 'node:path';
import type { Plugin } from 'esbuild';

/**
 * Native packages the agent bundle does not ship (hub-only). Each import of one
 * becomes a shim that loads the real package on first use, from a node_modules
 * next to the bundle if there is one (`npm install better-sqlite3@12` turns the
 * bundle into a hub), and otherwise throws a message that says what to do.
 *
 * Plain `external` is not enough: esbuild hoists an external `import` to the top
 * of an ESM bundle even when only a lazily imported module uses it, so every
 * command would fail to start where the package is missing.
 */
export const optionalRuntimePackages = ['better-sqlite3'] as const;

const NAMESPACE = 'reconsync-lazy';

function shimSource(pkg: string): string {
  const hint = `${pkg} is not part of the agent bundle (it is native and only the hub needs it). ` +
    'Run the hub from the npm package or the container image (deploy/Dockerfile), ' +
    `or run \`npm install ${pkg}\` in the bundle's folder.`;
  return `
import { createRequire } from 'node:module';
const load = () => {
  if (!cache.mod) {
    try {
      cache.mod = createRequire(import.meta.url)(${JSON.stringify(pkg)});
    } catch (cause) {
      throw new Error(${JSON.stringify(hint)}, { cause });
    }
  }
  return cache.mod;
};
const cache = { mod: null };
// A callable, constructible stand-in that forwards everything to the real export.
const lazy = new Proxy(function lazyExport() {}, {
  construct: (_t, args) => Reflect.construct(load(), args),
  apply: (_t, self, args) => Reflect.apply(load(), self, args),
  get: (_t, prop) => Reflect.get(load(), prop),
  has: (_t, prop) => Reflect.has(load(), prop),
});
export default lazy;
`;
}

export function lazyOptionalPackagePlugin(packages: readonly string[]): Plugin {
  const filter = new RegExp(`^(${packages.map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
  return {
    name: 'reconsync-lazy-optional',
    setup(build) {
      build.onResolve({ filter }, (args) => ({ path: args.path, namespace: NAMESPACE }));
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({ contents: shimSource(args.path), loader: 'js', resolveDir: build.initialOptions.absWorkingDir ?? process.cwd() }));
    },
  };
}

/**
 * Hub-only modules left out of the agent bundle: the hub (SQLite store, Discord
 * bot, HTTP API), the commands that open its store, and the demo (a hub in
 * process). The bundle cannot run them (better-sqlite3 is native and not
 * shipped), and discord.js alone is several MiB an agent would hold in memory for
 * nothing. Each is replaced by a module with the same exports that says where the
 * hub runs from. Keyed by path from the repository root, valued by its exports
 * (test/deploy/bundle.test.ts compares each list with the real module's exports).
 */
export const hubOnlyModules: Record<string, string[]> = {
  'hub/main.ts': ['runHub'],
  'hub/discord-extension.ts': ['discordExtension'],
  'cli/hub-admin.ts': ['runTokenCommand', 'runApiKeyCommand', 'runServerForget', 'runAgentForget'],
  'demo/demo.ts': ['runDemo'],
};

const HUB_ONLY_NAMESPACE = 'reconsync-hub-only';
export const HUB_ONLY_MESSAGE = 'This is the agent bundle: the hub, its token/apikey/server/agent commands and the demo are not part of it. '
  + 'Run them from a checkout (npm ci; bin/reconsync.js) or the container image (deploy/Dockerfile); see README.md, "Installing the hub".';

export function hubOnlyModulePlugin(rootDir: string, modules: Record<string, string[]> = hubOnlyModules): Plugin {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const byAbsolute = new Map(Object.entries(modules).map(([rel, names]) => [path.resolve(rootDir, rel), names]));
  const filter = new RegExp(`/(${[...new Set(Object.keys(modules).map((k) => path.posix.basename(k)))].map(escape).join('|')})$`);
  return {
    name: 'reconsync-hub-only',
    setup(build) {
      build.onResolve({ filter }, (args) => {
        const abs = path.resolve(args.resolveDir, args.path);
        // Same file name elsewhere (agent/main.ts): resolve it normally.
        return byAbsolute.has(abs) ? { path: abs, namespace: HUB_ONLY_NAMESPACE } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: HUB_ONLY_NAMESPACE }, (args) => ({
        contents: (byAbsolute.get(args.path) ?? []).map((name) => `export function ${name}() { throw new Error(${JSON.stringify(HUB_ONLY_MESSAGE)}); }`).join('\n'),
        loader: 'js',
        resolveDir: rootDir,
      }));
    },
  };
}

/**
 * zod's translated error messages: ~60 locales, ~400 KB of the source an agent holds
 * in memory, all of it reachable only through `z.locales.<lang>()`, which nothing in
 * ReconSync calls (messages are English; zod registers `en` on its own, from en.js).
 * The bundle's `z.locales` / `core.locales` namespace therefore holds only `en`.
 */
export function zodEnglishOnlyPlugin(): Plugin {
  return {
    name: 'reconsync-zod-english-only',
    setup(build) {
      build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
        if (!/[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)) return undefined;
        return { path: path.join(args.resolveDir, '..', 'locales', 'index.js'), namespace: 'reconsync-zod-locales' };
      });
      build.onLoad({ filter: /.*/, namespace: 'reconsync-zod-locales' }, (args) => ({
        contents: `export { default as en } from ${JSON.stringify(path.join(path.dirname(args.path), 'en.js'))};`,
        loader: 'js',
        resolveDir: path.dirname(args.path),
      }));
    },
  };
}
