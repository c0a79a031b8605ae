import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import { REPO_ROOT, adjacency, findCycles, readImportGraph } from '../../../tools/import-graph.ts';

// Issue 14: the engine is a facade over plain functions that share a BackupContext,
// not a service locator whose internals the pipeline, uploads and restore reach into.

const BACKUP_DIR = fileURLToPath(new URL('../../../agent/backup/', import.meta.url));

/** agent/backup's own files → the files of agent/backup they import (type-only included: they tie the modules together just the same), by name. */
async function importGraph(): Promise<Map<string, string[]>> {
  const adj = adjacency(await readImportGraph(REPO_ROOT, ['agent/backup']));
  // one folder, not its subfolders: the facade rule is about this folder's modules
  const local = (f: string) => path.posix.dirname(f) === 'agent/backup';
  const name = (f: string) => path.posix.basename(f);
  return new Map([...adj].filter(([f]) => local(f)).map(([f, deps]) => [name(f), deps.filter(local).map(name)]));
}

test('agent/backup has no import cycle, and only the public index imports the engine facade', async () => {
  const graph = await importGraph();
  assert.ok(graph.has('engine.ts') && (graph.get('upload.ts')?.length ?? 0) > 0, 'the graph was read');
  assert.deepEqual(findCycles(graph).map((t) => t.cycle.join(' → ')), []);
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
