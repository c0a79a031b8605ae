/**
 * The import graph of our own TypeScript: who imports whom, which of those edges are
 * type-only, and the cycles among them. test/structure.test.ts guards the whole tree with
 * it and test/agent/backup/engine-structure.test.ts one folder; run it by hand to see the
 * tangles: `node --import tsx tools/import-graph.ts [dir ...]`.
 *
 * Hand-written because madge and dependency-cruiser pull in a TypeScript compiler API, and
 * ours (typescript 7, the native compiler) has none to hand: our imports are one narrow
 * shape (relative, with the `.ts` extension, ESM), which a comment-aware scan reads exactly.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folders whose .ts files are source (tsconfig's `include` without test/). */
export const SOURCE_DIRS = ['lib', 'sim', 'tools', 'demo', 'protocol', 'hub', 'agent', 'games', 'cli', 'bin', 'bench', 'deploy'] as const;

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** One import, export-from or `import()` as written. */
export interface ImportRef {
  specifier: string;
  /** `import type`, `export type`, `{ type A, type B }`, or `import('x').T` in a type position: erased at run time. */
  typeOnly: boolean;
  /** `await import('./x.ts')`: loaded when the code runs, not when the module loads. */
  dynamic: boolean;
}

/** An edge between two of our files; paths are repository-relative with `/`. */
export interface ImportEdge extends ImportRef {
  from: string;
  to: string;
}

export interface ImportGraph {
  files: string[];
  edges: ImportEdge[];
  /** Packages and node: builtins each file imports (the layering rules read them). */
  external: Map<string, ImportRef[]>;
  /** Relative specifiers that name no file: a typo the typechecker reports too; listed so nothing is dropped silently. */
  unresolved: ImportEdge[];
}

/**
 * The code with comments blanked (newlines kept, so offsets and line numbers hold) and,
 * when asked, the text of string literals blanked too. Template literal text is always
 * blanked (code generators write `import … from` inside them), their `${…}` parts kept.
 * Regex literals are told from division by the previous significant character, the usual
 * heuristic; it is exact for code that a formatter would leave alone.
 */
export function blankNonCode(src: string, opts: { strings: boolean }): string {
  const out = src.split('');
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  const templateDepth: number[] = []; // brace depth at which each open `${` returns to its template
  let braces = 0;
  let prev = ''; // previous significant character of code
  let i = 0;
  const readTemplate = (start: number): void => {
    // from just after ` or } to the closing ` or the next ${
    let j = start;
    while (j < src.length && src[j] !== '`' && !(src[j] === '$' && src[j + 1] === '{')) j += src[j] === '\\' ? 2 : 1;
    blank(start, Math.min(j, src.length));
    if (src[j] === '$') {
      templateDepth.push(braces);
      braces++;
      i = j + 2;
      prev = '{';
    } else {
      i = j + 1;
      prev = '`';
    }
  };
  while (i < src.length) {
    const c = src[i]!;
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      const end = src.indexOf('\n', i);
      const stop = end === -1 ? src.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? src.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '\'' || c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      if (opts.strings) blank(i + 1, j);
      i = j + 1;
      prev = c;
    } else if (c === '`') {
      readTemplate(i + 1);
    } else if (c === '/' && (prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev))) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n' && (inClass || src[j] !== '/')) {
        if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        j += src[j] === '\\' ? 2 : 1;
      }
      if (opts.strings) blank(i + 1, j);
      i = j + 1;
      prev = '/';
    } else {
      if (c === '{') braces++;
      else if (c === '}') {
        braces--;
        if (templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === braces) {
          templateDepth.pop();
          readTemplate(i + 1);
          continue;
        }
      }
      if (!/\s/.test(c)) prev = /[\w$]/.test(c) ? 'a' : c;
      i++;
    }
  }
  return out.join('');
}

// `import x, { a, type b } from '…'`, `import * as x from`, `export { a } from`, `export * from`, `import type … from`
const STATIC_RE = /^[ \t]*(?:import|export)\s+(type\s+)?((?:[\w$]+\s*,\s*)?(?:\*(?:\s*as\s+[\w$]+)?|\{[^}]*\}|[\w$]+))\s*from\s*(['"])([^'"\n]+)\3/gm;
const SIDE_EFFECT_RE = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm;
const DYNAMIC_RE = /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** Every import, export-from and literal `import()` of one file's source. */
export function parseImports(src: string): ImportRef[] {
  const code = blankNonCode(src, { strings: false });
  // the specifier is string text, so matching needs it; the keyword must be code, not inside a string
  const bare = blankNonCode(src, { strings: true });
  const isCode = (m: RegExpExecArray): boolean => /^\s*(?:import|export)/.test(bare.slice(m.index, m.index + m[0].length));
  const refs: ImportRef[] = [];
  for (const m of code.matchAll(STATIC_RE)) {
    if (!isCode(m)) continue;
    const clause = m[2]!;
    const names = /^\{([^}]*)\}$/.exec(clause.trim())?.[1]?.split(',').map((s) => s.trim()).filter((s) => s !== '');
    // `{ type A, type B }` with nothing else is erased at run time like `import type { A, B }`
    const allTypes = names !== undefined && names.length > 0 && names.every((s) => /^type\s/.test(s));
    refs.push({ specifier: m[4]!, typeOnly: m[1] !== undefined || allTypes, dynamic: false });
  }
  for (const m of code.matchAll(SIDE_EFFECT_RE)) if (isCode(m)) refs.push({ specifier: m[2]!, typeOnly: false, dynamic: false });
  for (const m of code.matchAll(DYNAMIC_RE)) {
    if (!isCode(m)) continue;
    const before = code.slice(Math.max(0, m.index - 20), m.index);
    const after = code.slice(m.index + m[0].length, m.index + m[0].length + 20);
    // `typeof import('x')` and `import('x').Name` are types; `(await import('x')).f` and `import('x').then(` are code
    const typeOnly = /\btypeof\s+$/.test(before) || (/^\.\s*[\w$]/.test(after) && !/^\.\s*(then|catch|finally)\b/.test(after));
    refs.push({ specifier: m[2]!, typeOnly, dynamic: !typeOnly });
  }
  return refs;
}

async function listFiles(root: string, dir: string, exts: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.')) await walk(child);
      } else if (exts.some((x) => e.name.endsWith(x))) found.push(child);
    }
  };
  await walk(dir);
  return found.sort();
}

/** Repository-relative paths of the files under `dirs` whose names end in one of `exts`, test files left out. */
export async function sourceFiles(root: string = REPO_ROOT, dirs: readonly string[] = SOURCE_DIRS, exts: readonly string[] = ['.ts']): Promise<string[]> {
  const all = (await Promise.all(dirs.map((d) => listFiles(root, d, exts)))).flat();
  return all.filter((f) => !f.endsWith('.test.ts')).sort();
}

/** The graph of the source files under `dirs` (default: all of SOURCE_DIRS). */
export async function readImportGraph(root: string = REPO_ROOT, dirs: readonly string[] = SOURCE_DIRS): Promise<ImportGraph> {
  const files = await sourceFiles(root, dirs);
  const known = new Set(files);
  const graph: ImportGraph = { files, edges: [], external: new Map(), unresolved: [] };
  for (const from of files) {
    const refs = parseImports(await fs.readFile(path.join(root, from), 'utf8'));
    const external: ImportRef[] = [];
    for (const ref of refs) {
      if (!ref.specifier.startsWith('.')) {
        external.push(ref);
        continue;
      }
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(from), ref.specifier));
      // a file outside `dirs` (reading one folder) is not part of this graph, but it exists
      const exists = known.has(to) || (await fs.stat(path.join(root, to)).then(() => true, () => false));
      if (!exists) graph.unresolved.push({ ...ref, from, to });
      else if (known.has(to)) graph.edges.push({ ...ref, from, to });
    }
    graph.external.set(from, external);
  }
  return graph;
}

/** file → files it imports, from the edges `keep` accepts (default: all). */
export function adjacency(graph: ImportGraph, keep: (e: ImportEdge) => boolean = () => true): Map<string, string[]> {
  const adj = new Map<string, string[]>(graph.files.map((f) => [f, []]));
  for (const e of graph.edges) {
    const list = adj.get(e.from)!;
    if (keep(e) && !list.includes(e.to)) list.push(e.to);
  }
  return adj;
}

/** Files that import each other round a loop: all of them, and one loop a reader can follow. */
export interface Tangle {
  files: string[];
  /** A shortest cycle through the first file, closed by repeating it: `a → b → a`. */
  cycle: string[];
}

/**
 * The tangles: every strongly connected component of two or more files (or one file that
 * imports itself). Tarjan's algorithm, iterative so a deep chain cannot overflow the stack.
 */
export function findCycles(adj: Map<string, string[]>): Tangle[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  for (const start of adj.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; i: number }> = [{ node: start, i: 0 }];
    index.set(start, next); low.set(start, next); next++;
    stack.push(start); onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const deps = adj.get(top.node) ?? [];
      if (top.i < deps.length) {
        const d = deps[top.i++]!;
        if (!index.has(d)) {
          index.set(d, next); low.set(d, next); next++;
          stack.push(d); onStack.add(d);
          work.push({ node: d, i: 0 });
        } else if (onStack.has(d)) low.set(top.node, Math.min(low.get(top.node)!, index.get(d)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const comp: string[] = [];
        let m: string;
        do {
          m = stack.pop()!;
          onStack.delete(m);
          comp.push(m);
        } while (m !== top.node);
        if (comp.length > 1 || (adj.get(top.node) ?? []).includes(top.node)) components.push(comp.sort());
      }
    }
  }
  return components.map((files) => ({ files, cycle: exampleCycle(adj, files) }));
}

/** A shortest cycle through the component's first file, found breadth-first inside the component. */
function exampleCycle(adj: Map<string, string[]>, comp: string[]): string[] {
  const members = new Set(comp);
  const first = comp[0]!;
  const prevOf = new Map<string, string>();
  const queue = [first];
  for (let q = 0; q < queue.length; q++) {
    const n = queue[q]!;
    for (const d of adj.get(n) ?? []) {
      if (!members.has(d)) continue;
      if (d === first) {
        const cycle = [first];
        for (let at: string | undefined = n; at !== undefined && at !== first; at = prevOf.get(at)) cycle.splice(1, 0, at);
        return [...cycle, first];
      }
      if (!prevOf.has(d)) {
        prevOf.set(d, n);
        queue.push(d);
      }
    }
  }
  return comp;
}

async function main(): Promise<void> {
  const dirs = process.argv.slice(2);
  const graph = await readImportGraph(REPO_ROOT, dirs.length > 0 ? dirs : SOURCE_DIRS);
  const all = adjacency(graph);
  const runtime = adjacency(graph, (e) => !e.typeOnly);
  const allCycles = findCycles(all);
  const runtimeCycles = findCycles(runtime);
  const typeOnly = graph.edges.filter((e) => e.typeOnly).length;
  console.log(`${graph.files.length} files, ${graph.edges.length} edges (${typeOnly} type-only)`);
  console.log(`cycles with run-time edges only: ${runtimeCycles.length}`);
  for (const t of runtimeCycles) console.log(`  ${t.cycle.join(' → ')}`);
  console.log(`cycles counting type-only edges: ${allCycles.length}`);
  for (const { files, cycle: c } of allCycles) {
    console.log(`  ${c.join(' → ')}${files.length + 1 > c.length ? ` (tangle of ${files.length}: ${files.join(', ')})` : ''}`);
    for (let k = 0; k + 1 < c.length; k++) {
      const kinds = graph.edges.filter((e) => e.from === c[k] && e.to === c[k + 1]).map((e) => (e.typeOnly ? 'type' : e.dynamic ? 'dynamic' : 'value'));
      console.log(`      ${c[k]} → ${c[k + 1]}: ${[...new Set(kinds)].join(', ')}`);
    }
  }
  for (const u of graph.unresolved) console.log(`unresolved: ${u.from} imports ${u.specifier}`);
  if (allCycles.length > 0 || graph.unresolved.length > 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
