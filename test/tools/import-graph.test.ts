import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adjacency, blankNonCode, findCycles, parseImports, type ImportGraph } from '../../tools/import-graph.ts';

// The structure guard is only as good as the scan under it: each way our code names a
// module must be read, with its kind, and nothing in comments or generated text may count.

test('parseImports reads every import form with its kind', () => {
  const src = [
    "import fs from 'node:fs';",
    "import { a,",
    "  b } from './multi-line.ts';",
    "import type { T } from './type-only.ts';",
    "import { type U, type V } from './all-inline-types.ts';",
    "import { type W, x } from './mixed.ts';",
    "import * as ns from './namespace.ts';",
    "import def, { y } from './default-and-named.ts';",
    "export * from './star.ts';",
    "export { z } from './reexport.ts';",
    "export type { Z } from './type-reexport.ts';",
    "import './side-effect.ts';",
    "const m = await import('./dynamic.ts');",
    "type Mod = typeof import('./typeof.ts');",
    "let d: import('./type-position.ts').Thing;",
    "void import('./then.ts').then((x) => x);",
  ].join('\n');
  const got = parseImports(src).map((r) => `${r.specifier} ${r.typeOnly ? 'type' : r.dynamic ? 'dynamic' : 'value'}`).sort();
  assert.deepEqual(got, [
    './all-inline-types.ts type',
    './default-and-named.ts value',
    './dynamic.ts dynamic',
    './mixed.ts value',
    './multi-line.ts value',
    './namespace.ts value',
    './reexport.ts value',
    './side-effect.ts value',
    './star.ts value',
    './then.ts dynamic',
    './type-only.ts type',
    './type-position.ts type',
    './type-reexport.ts type',
    './typeof.ts type',
    'node:fs value',
  ]);
});

test('parseImports ignores imports inside comments, template text and regex literals', () => {
  const src = [
    "// import { a } from './line-comment.ts';",
    '/*',
    "import { b } from './block-comment.ts';",
    '*/',
    "/** loaded lazily: import('./doc-comment.ts') */",
    'const code = `',
    "import { c } from './template.ts';",
    "await import('./template-dynamic.ts');",
    '`;',
    "const re = /import\\('.\\/regex.ts'\\)/;",
    "const s = 'import(\"./string.ts\")';",
    "const t = `${await import('./in-substitution.ts')}`;",
    "import { real } from './real.ts';",
  ].join('\n');
  assert.deepEqual(parseImports(src).map((r) => r.specifier).sort(), ['./in-substitution.ts', './real.ts']);
});

test('blankNonCode keeps line numbers and, when asked, blanks string text', () => {
  const src = "class A {\n  // private x\n  msg = 'private key';\n  private y = 1;\n}\n";
  const code = blankNonCode(src, { strings: true });
  assert.equal(code.split('\n').length, src.split('\n').length);
  assert.equal(code.length, src.length);
  assert.deepEqual(code.split('\n').map((l, i) => (/\bprivate\s/.test(l) ? i + 1 : 0)).filter(Boolean), [4]);
  assert.match(blankNonCode(src, { strings: false }), /'private key'/);
});

const graphOf = (edges: Array<[string, string, boolean?]>): ImportGraph => {
  const files = [...new Set(edges.flatMap(([a, b]) => [a, b]))].sort();
  return { files, external: new Map(), unresolved: [], edges: edges.map(([from, to, typeOnly]) => ({ from, to, specifier: to, typeOnly: typeOnly ?? false, dynamic: false })) };
};

test('findCycles finds each tangle once, with a loop through it, and self-imports', () => {
  const g = graphOf([
    ['a.ts', 'b.ts'], ['b.ts', 'c.ts'], ['c.ts', 'a.ts', true], // a three-file loop closed by a type-only edge
    ['c.ts', 'd.ts'], ['d.ts', 'e.ts'], // acyclic tail
    ['f.ts', 'f.ts'], // imports itself
    ['g.ts', 'h.ts'], ['h.ts', 'g.ts'], ['h.ts', 'i.ts'], ['i.ts', 'g.ts'], // one tangle of three, two loops
  ]);
  const tangles = findCycles(adjacency(g)).map((t) => ({ files: t.files, cycle: t.cycle.join(' → ') })).sort((x, y) => x.cycle.localeCompare(y.cycle));
  assert.deepEqual(tangles, [
    { files: ['a.ts', 'b.ts', 'c.ts'], cycle: 'a.ts → b.ts → c.ts → a.ts' },
    { files: ['f.ts'], cycle: 'f.ts → f.ts' },
    { files: ['g.ts', 'h.ts', 'i.ts'], cycle: 'g.ts → h.ts → g.ts' },
  ]);
  // without the type-only edge the first loop is gone: the run-time view the CLI prints separately
  assert.deepEqual(findCycles(adjacency(g, (e) => !e.typeOnly)).map((t) => t.files.join(',')).sort(), ['f.ts', 'g.ts,h.ts,i.ts']);
});

test('findCycles walks a long chain without recursion', () => {
  const n = 50_000;
  const edges: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) edges.push([`m${i}.ts`, `m${(i + 1) % n}.ts`]);
  const [tangle, ...rest] = findCycles(adjacency(graphOf(edges)));
  assert.equal(rest.length, 0);
  assert.equal(tangle!.files.length, n);
  assert.equal(tangle!.cycle.length, n + 1);
});
