import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { BackupEngine } from '../../../agent/backup/engine.ts';

// Issue 14: the engine is a facade over plain functions that share a BackupContext,
// not a service locator whose internals the pipeline, uploads and restore reach into.

const BACKUP_DIR = fileURLToPath(new URL('../../../agent/backup/', import.meta.url));

/** file → the files of this folder it imports or re-exports (type-only imports count: they tie the modules together just the same). */
async function importGraph(dir: string): Promise<Map<string, string[]>> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.ts'));
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const src = await fs.readFile(path.join(dir, f), 'utf8');
    // `from './x.ts'` (import, import type, export … from) and `import('./x.ts')`: the ways a module reaches a sibling.
    const deps = [...src.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)'\.\/([^'/]+)'/g)].map((m) => m[1]!);
    graph.set(f, deps.filter((d) => files.includes(d)));
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (n: string, stack: string[]): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d].join(' → '));
      else if (!state.has(d)) visit(d, stack);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n, []);
  return found;
}

test('agent/backup has no import cycle, and only the public index imports the engine facade', async () => {
  const graph = await importGraph(BACKUP_DIR);
  assert.ok(graph.has('engine.ts') && (graph.get('upload.ts')?.length ?? 0) > 0, 'the graph was read');
  assert.deepEqual(cycles(graph), []);
  const importers = [...graph].filter(([f, deps]) => f !== 'index.ts' && deps.includes('engine.ts')).map(([f]) => f);
  assert.deepEqual(importers, [], 'pipeline, uploads, restore and the rest take a BackupContext, never the engine');
});

test('engine.ts stays a small facade (under 400 lines) with no public state', async (t) => {
  const lines = (await fs.readFile(path.join(BACKUP_DIR, 'engine.ts'), 'utf8')).split('\n').length;
  assert.ok(lines < 400, `engine.ts has ${lines} lines`);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'reconsync-engine-'));
  t.after(() => fs.rm(dataDir, { recursive: true, force: true }));
  const engine = new BackupEngine({ dataDir });
  t.after(() => engine.close());
  // Own enumerable properties are what other modules could read or overwrite (catalog, options, clock, logger…).
  assert.deepEqual(Object.keys(engine), []);
});
