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
