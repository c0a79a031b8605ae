// Issue 10 §10: a game that renames and deletes files while it saves. Vanished
// files are skipped at once (the settle step already waited), the waits for
// them are capped for the whole archive, and one summary warning reports them.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import { createArchive } from '../../../agent/backup/archive.ts';
import { ZstdPool } from '../../../agent/backup/compress.ts';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { systemClock, type Clock } from '../../../protocol/index.ts';
import { makeServer, Published, tempDir, TestAdminChannel, TestServerControl, writeTree } from './helpers.ts';

/** Creates (write to .tmp, rename into place) and deletes `churn-<i>.sav` in a loop until killed, as a saving game does. */
const CHURNER = `
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[1];
const N = 1000;
let cycle = 0;
function round() {
  for (let i = 0; i < N; i++) {
    const f = path.join(dir, 'churn-' + i + '.sav');
    if ((i + cycle) % 2) {
      fs.writeFileSync(f + '.tmp', 'save ' + cycle + ' ' + i);
      fs.renameSync(f + '.tmp', f);
    } else {
      fs.rmSync(f, { force: true });
    }
  }
  if (cycle++ === 1) process.stdout.write('ready\\n');
  setImmediate(round);
}
round();
`;

/** A clock that records every wait and returns at once: counts the retry delays without spending them. */
function countingClock(): Clock & { waits: number[] } {
  const waits: number[] = [];
  return { waits, now: () => Date.now(), sleep: async (ms) => void waits.push(ms), setTimer: systemClock.setTimer };
}

/** Starts the churner on `save` and resolves once it has gone round twice. */
async function startChurn(t: { after(fn: () => void): void }, save: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', CHURNER, save], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void child.kill('SIGKILL'));
  const [line] = (await once(child.stdout!, 'data', { signal: AbortSignal.timeout(20_000) })) as [Buffer];
  assert.match(line.toString(), /ready/);
  return child;
}

test('heavy churn: vanished files are skipped at once, waits are capped for the whole archive, one summary warning', async (t) => {
  const dir = await tempDir(t);
  const save = path.join(dir, 'saves');
  await writeTree(save, { 'world.dat': 'the stable world' });
  const child = await startChurn(t, save);

  const pool = new ZstdPool({ size: 1 });
  t.after(() => pool.close());
  // On a loaded machine the churner may get no CPU during one archive: archive again (a few times at most) until files did vanish.
  let clock = countingClock();
  let r;
  for (let i = 0; i < 5; i++) {
    clock = countingClock();
    r = await createArchive({
      source: { savePaths: [save], include: [], exclude: ['**/*.tmp'], sqlite: [] }, dir: path.join(dir, 'out'), id: `b${i}`, format: 'tar.zst', pool, tmpDir: path.join(dir, 'tmp'), clock,
    });
    if (r.skipped.vanished.length > 0) break;
  }
  child.kill('SIGKILL');
  r = r!;

  assert.ok(r.files.some((f) => f.path === 'saves/world.dat'), 'the stable file is archived');
  const vanishedWarnings = r.warnings.filter((w) => /vanished/.test(w));
  assert.equal(vanishedWarnings.length, 1, `one summary warning, not one per file:\n${r.warnings.slice(0, 5).join('\n')}\n(${r.warnings.length} warnings)`);
  const count = Number(/^(\d+) files? not archived \(vanished/.exec(vanishedWarnings[0]!)?.[1]);
  assert.ok(count > 0, `the churn made files vanish during the backup: ${vanishedWarnings[0]}`);
  assert.equal(count, r.skipped.vanished.length, 'the warning counts every skipped file');
  const archived = new Set(r.files.map((f) => f.path));
  for (const p of r.skipped.vanished) assert.ok(!archived.has(p), `${p} is reported as skipped, so it is not counted as archived`);
  assert.ok(vanishedWarnings[0]!.length <= 1000, 'fits a manifest warning');
  // No per-file retry delay: at most one shared wait for the whole archive, whatever the number of vanished files.
  assert.ok(clock.waits.length <= 1, `waited ${clock.waits.length} times (${clock.waits.slice(0, 5).join(', ')} ms ...) for ${count} vanished files`);
});

test('the engine reports the one summary warning in the backup record the hub and the API get', async (t) => {
  const dir = await tempDir(t);
  const save = path.join(dir, 'saves');
  await writeTree(save, { 'world.dat': 'the stable world' });
  const child = await startChurn(t, save);
  const server = makeServer({ savePaths: [save], backup: { destinations: ['local'], settleTimeoutMs: 200 }, exclude: ['**/*.tmp'] });
  const pub = new Published();
  const engine = new BackupEngine({ dataDir: path.join(dir, 'data'), logger: silentLogger, publishRecord: pub.publishRecord, publishState: pub.publishState, zstdPoolSize: 1 });
  t.after(() => engine.close());
  await engine.init([server]);
  let rec;
  for (let i = 0; i < 5; i++) {
    rec = await engine.create(server, new TestServerControl('running'), new TestAdminChannel(), { trigger: 'manual' });
    if (rec.warnings?.some((w) => /vanished/.test(w))) break; // else the churner got no CPU during that one: again
  }
  child.kill('SIGKILL');
  rec = rec!;
  const vanished = (rec.warnings ?? []).filter((w) => /vanished/.test(w));
  assert.equal(vanished.length, 1, JSON.stringify(rec.warnings));
  assert.match(vanished[0]!, /^\d+ files? not archived \(vanished while the backup ran: renamed or deleted by the game\): saves\/churn-\d+\.sav/);
  assert.deepEqual(pub.ofTopic('backup.completed').at(-1)!.warnings, rec.warnings, 'the record queued for the hub carries it');
  assert.deepEqual(rec.destinations, [{ target: 'local', verified: true }]);
});
