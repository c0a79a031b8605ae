import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, adjacency, blankNonCode, findCycles, readImportGraph, sourceFiles, type ImportGraph } from '../tools/import-graph.ts';

// Issue 14: the tree's shape, guarded for every source file (test/ is not source).
// The import graph comes from tools/import-graph.ts; `node --import tsx tools/import-graph.ts`
// prints the same cycles with the kind of each edge.

const MAX_LINES = 400;
/** What protocol/ (and the lib/ files it pulls in) may load at run time: validation and hashing, no I/O. */
const PROTOCOL_PACKAGES = new Set(['zod', 'node:crypto']);
/** Source that is not TypeScript but is ours to keep small too (the Windows service, installers, the launcher). */
const LINE_COUNTED = ['.ts', '.js', '.mjs', '.cs', '.ps1', '.sh', '.cmd'];

/**
 * TypeScript `private`/`protected` members that stay, by file, each with why. There is no
 * `#` form for a constructor, and Store is only opened through Store.open (the lock and the
 * migrations come first). An entry that stops matching fails the test, so the list cannot rot.
 */
const TS_PRIVACY_ALLOWED: Record<string, { match: RegExp; why: string }> = {
  'hub/store/store.ts': { match: /^\s*private constructor\(/, why: 'no #constructor in JS: Store.open is the only way in' },
  'agent/link/outbox.ts': { match: /^\s*private constructor\(/, why: 'no #constructor in JS: Outbox.open (which loads and repairs the file) is the only way in' },
};

let graphRead: Promise<ImportGraph> | undefined;
const graph = (): Promise<ImportGraph> => (graphRead ??= readImportGraph());

const topDir = (f: string): string => f.split('/')[0]!;

/** The first path of imports (any kind) from `from` to a file `stop` accepts, or null. */
function pathTo(adj: Map<string, string[]>, from: string, stop: (f: string) => boolean): string[] | null {
  const prev = new Map<string, string>([[from, '']]);
  const queue = [from];
  for (let q = 0; q < queue.length; q++) {
    const n = queue[q]!;
    for (const d of adj.get(n) ?? []) {
      if (prev.has(d)) continue;
      prev.set(d, n);
      if (stop(d)) {
        const chain = [d];
        for (let at = n; at !== ''; at = prev.get(at)!) chain.unshift(at);
        return chain;
      }
      queue.push(d);
    }
  }
  return null;
}

test('the import graph is read: every kind of edge is seen and every relative import names a file', async () => {
  const g = await graph();
  assert.ok(g.files.length > 200, `only ${g.files.length} source files found under ${REPO_ROOT}`);
  const has = (from: string, to: string, kind: 'value' | 'type' | 'dynamic') =>
    g.edges.some((e) => e.from === from && e.to === to && (kind === 'type' ? e.typeOnly : kind === 'dynamic' ? e.dynamic : !e.typeOnly && !e.dynamic));
  // one known edge of each kind, so a parser that silently reads nothing cannot pass the cycle check
  assert.ok(has('agent/agent.ts', 'agent/handlers.ts', 'value'), 'static import agent.ts → handlers.ts');
  assert.ok(has('agent/handlers.ts', 'agent/server-unit.ts', 'type'), 'import type handlers.ts → server-unit.ts');
  assert.ok(has('cli/main.ts', 'hub/main.ts', 'dynamic'), "await import('../hub/main.ts') in cli/main.ts");
  assert.ok(has('protocol/index.ts', 'protocol/frames.ts', 'value'), 'export * from in protocol/index.ts');
  assert.deepEqual(g.unresolved.map((u) => `${u.from}: ${u.specifier}`), []);
});

test('no import cycle among source files, type-only imports included', async () => {
  // Type-only loops are counted too: they are erased at run time, but they show two modules
  // that each own part of the other's facts; the shared type wants a module of its own.
  const g = await graph();
  const tangles = findCycles(adjacency(g));
  assert.deepEqual(tangles.map((t) => `${t.cycle.join(' → ')}${t.files.length + 1 > t.cycle.length ? ` (tangle: ${t.files.join(', ')})` : ''}`), []);
});

test('protocol/ does no I/O: what it loads stays in protocol/ and pure lib/ files, with zod and node:crypto only', async () => {
  const g = await graph();
  const adj = adjacency(g, (e) => !e.typeOnly);
  const protocolFiles = g.files.filter((f) => topDir(f) === 'protocol');
  assert.ok(protocolFiles.length > 5);
  // everything protocol/ loads, directly or through what it loads
  const reached = new Set(protocolFiles);
  const queue = [...protocolFiles];
  for (let q = 0; q < queue.length; q++) {
    for (const d of adj.get(queue[q]!) ?? []) {
      if (!reached.has(d)) {
        reached.add(d);
        queue.push(d);
      }
    }
  }
  const outside = [...reached].filter((f) => topDir(f) !== 'protocol' && topDir(f) !== 'lib');
  assert.deepEqual(outside, [], 'protocol/ reaches files outside protocol/ and lib/');
  const io = [...reached].flatMap((f) => (g.external.get(f) ?? []).filter((r) => !r.typeOnly && !PROTOCOL_PACKAGES.has(r.specifier)).map((r) => `${f} loads ${r.specifier}`));
  assert.deepEqual(io, [], `protocol/ and the lib/ files it uses may load only ${[...PROTOCOL_PACKAGES].join(', ')}`);
});

test('hub/ and agent/ never reach each other, neither reaches cli/, and games/ (the profiles) reaches none of them (through any file, type-only included)', async () => {
  const g = await graph();
  const adj = adjacency(g);
  const rules: Array<[from: string, forbidden: string[]]> = [['hub', ['agent', 'cli']], ['agent', ['hub', 'cli']], ['games', ['agent', 'hub', 'cli']]];
  const broken: string[] = [];
  for (const [from, forbidden] of rules) {
    for (const f of g.files.filter((x) => topDir(x) === from)) {
      const chain = pathTo(adj, f, (d) => forbidden.includes(topDir(d)));
      if (chain) broken.push(chain.join(' → '));
    }
  }
  assert.deepEqual(broken, []);
});

test('hub/store/ is the bottom of the hub: it reaches only hub/store/, protocol/ and lib/', async () => {
  // The store once imported the audit row types from hub/service, which imports the store:
  // the shapes a table stores belong to the table.
  const g = await graph();
  const adj = adjacency(g);
  const allowed = (f: string) => f.startsWith('hub/store/') || topDir(f) === 'protocol' || topDir(f) === 'lib';
  const broken = g.files.filter((f) => f.startsWith('hub/store/')).map((f) => pathTo(adj, f, (d) => !allowed(d))).filter((c) => c !== null).map((c) => c.join(' → '));
  assert.deepEqual(broken, []);
});

test(`no source file over ${MAX_LINES} lines`, async () => {
  const files = await sourceFiles(REPO_ROOT, undefined, LINE_COUNTED);
  assert.ok(files.some((f) => f.endsWith('.cs')), 'the Windows sources are counted too');
  const over: string[] = [];
  for (const f of files) {
    const text = await fs.readFile(path.join(REPO_ROOT, f), 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_LINES) over.push(`${f}: ${lines} lines`);
  }
  assert.deepEqual(over, [], 'split these by job (style.md §1)');
});

test("one privacy style: '#' members, no TypeScript private/protected (allow-list with reasons)", async () => {
  const found: string[] = [];
  const allowedSeen = new Set<string>();
  for (const f of await sourceFiles()) {
    // comments and string text blanked: a word in a message or a doc comment is not a modifier
    const code = blankNonCode(await fs.readFile(path.join(REPO_ROOT, f), 'utf8'), { strings: true });
    code.split('\n').forEach((line, i) => {
      if (!/(?<![\w$#.])(?:private|protected)\s+[\w$[]/.test(line)) return;
      const allowed = TS_PRIVACY_ALLOWED[f];
      if (allowed?.match.test(line)) allowedSeen.add(f);
      else found.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, [], "use '#name' members (and explicit fields instead of parameter properties)");
  const stale = Object.keys(TS_PRIVACY_ALLOWED).filter((f) => !allowedSeen.has(f));
  assert.deepEqual(stale, [], 'allow-list entries that no longer match: remove them');
});
