// Issue 10 §8: a damaged or vanished store is refused at start, with a message that says what to do,
// instead of the hub running on garbage pages (/healthz "ok", every API call INTERNAL) or silently
// starting over with an empty store (every agent token gone, every agent 401).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { open, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Store, STORE_FILE, STORE_MARKER, StoreOpenError } from '../../../hub/store/index.ts';
import { createToken, verifyToken } from '../../../hub/tokens.ts';
import { API_TOKEN, cliPath, tempDir } from '../../support/stack.ts';

const run = promisify(execFile);
const PAGE = 4096;

/** A store with a token and enough audit rows to span many pages, closed cleanly (no WAL left). */
async function populated(dir: string): Promise<{ file: string; token: string }> {
  const store = Store.open(dir);
  const token = createToken(store, 'box-1');
  store.transaction(() => {
    for (let i = 0; i < 400; i++) store.audit.append({ at: new Date(0).toISOString(), actor: { kind: 'system', id: 'test' }, action: 'test.fill', serverId: null, outcome: 'ok', detail: `row ${i} ${'x'.repeat(200)}` });
  });
  const file = store.file;
  store.close();
  assert.ok(statSync(file).size > 20 * PAGE, 'the store spans many pages');
  return { file, token };
}

/** Overwrites pages [from, to) with random bytes, as a failing disk or a stray write would. */
async function garblePages(file: string, from: number, to: number): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    for (let p = from; p < to; p++) await fh.write(randomBytes(PAGE), 0, PAGE, p * PAGE);
  } finally {
    await fh.close();
  }
}

async function hubYaml(dir: string, dataDir: string): Promise<string> {
  const cfg = path.join(dir, 'hub.yaml');
  await writeFile(cfg, `listen:\n  host: 127.0.0.1\n  port: 0\ndataDir: ${JSON.stringify(dataDir)}\napi:\n  token: \${RECONSYNC_API_TOKEN}\n`);
  return cfg;
}

/** Runs the real `reconsync hub` CLI; a hub that starts instead of refusing is stopped after 20 s and fails the test. */
async function runHubCli(cfg: string): Promise<{ code: number; stderr: string; stdout: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, 'hub', '--config', cfg], { env: { ...process.env, RECONSYNC_API_TOKEN: API_TOKEN, LOG_LEVEL: 'warn' }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
    if (e.killed) throw new Error(`the hub started on a store it should have refused: ${e.stdout ?? ''}${e.stderr ?? ''}`);
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function refusal(fn: () => unknown, reason: StoreOpenError['reason']): StoreOpenError {
  let caught: unknown;
  try {
    (fn() as Store | undefined)?.close();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof StoreOpenError, `expected a StoreOpenError, got ${String(caught)}`);
  assert.equal(caught.reason, reason);
  return caught;
}

describe('store open safety', () => {
  it('a brand-new dataDir initialises and leaves the marker; a store from before the marker existed is adopted', async () => {
    const t = await tempDir('reconsync-open-');
    try {
      const dir = path.join(t.dir, 'data');
      const { token } = await populated(dir);
      assert.ok(existsSync(path.join(dir, STORE_MARKER)));
      await rm(path.join(dir, STORE_MARKER));
      const s = Store.open(dir);
      assert.equal(verifyToken(s, token), 'box-1');
      s.close();
      assert.ok(existsSync(path.join(dir, STORE_MARKER)), 'marker written for an existing store');
    } finally {
      await t.cleanup();
    }
  });

  it('garbage pages: refused with the file named and what to do, by Store.open and by the real `reconsync hub` (exit 1)', async () => {
    const t = await tempDir('reconsync-open-');
    try {
      const dir = path.join(t.dir, 'data');
      const { file } = await populated(dir);
      // Data pages at the end of the file: the old hub opened this store and answered /healthz "ok".
      const pages = statSync(file).size / PAGE;
      await garblePages(file, pages - 8, pages - 1);
      const err = refusal(() => Store.open(dir), 'corrupt');
      assert.match(err.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged`));
      assert.match(err.message, /restore hub\.sqlite from a backup/);

      const cli = await runHubCli(await hubYaml(t.dir, dir));
      assert.equal(cli.code, 1, cli.stderr);
      assert.match(cli.stderr, /hub\.sqlite is damaged .*the hub will not start on it/);
    } finally {
      await t.cleanup();
    }
  });

  it('a garbled header page (not a database any more) is refused the same way', async () => {
    const t = await tempDir('reconsync-open-');
    try {
      const dir = path.join(t.dir, 'data');
      const { file } = await populated(dir);
      await garblePages(file, 0, 1);
      const err = refusal(() => Store.open(dir), 'corrupt');
      assert.match(err.message, /is damaged/);
    } finally {
      await t.cleanup();
    }
  });

  it('a 0-byte hub.sqlite where a store existed: refused, nothing created, by Store.open and the real CLI', async () => {
    const t = await tempDir('reconsync-open-');
    try {
      const dir = path.join(t.dir, 'data');
      const { file } = await populated(dir);
      await truncate(file, 0);
      const err = refusal(() => Store.open(dir), 'lost');
      assert.match(err.message, /is empty \(0 bytes\).*hub\.sqlite\.created shows a store existed/);
      assert.match(err.message, /Restore hub\.sqlite from a backup/);
      assert.equal(statSync(file).size, 0, 'the empty file was not turned into a new store');

      const cli = await runHubCli(await hubYaml(t.dir, dir));
      assert.equal(cli.code, 1, cli.stderr);
      assert.match(cli.stderr, /hub\.sqlite is empty \(0 bytes\).*will not start with an empty store/);
      assert.equal(statSync(file).size, 0);
    } finally {
      await t.cleanup();
    }
  });

  it('a missing hub.sqlite where the marker or WAL leftovers show a store: refused; a 0-byte file alone too', async () => {
    const t = await tempDir('reconsync-open-');
    try {
      const dir = path.join(t.dir, 'data');
      const { file } = await populated(dir);
      await rm(file);
      assert.match(refusal(() => Store.open(dir), 'lost').message, /is missing, but hub\.sqlite\.created shows a store existed/);
      assert.equal(existsSync(file), false, 'no new store was created');

      await rm(path.join(dir, STORE_MARKER));
      await writeFile(`${file}-wal`, randomBytes(64));
      assert.match(refusal(() => Store.open(dir), 'lost').message, /hub\.sqlite-wal shows a store existed/);
      await rm(`${file}-wal`);

      await writeFile(file, '');
      assert.match(refusal(() => Store.open(dir), 'lost').message, /is empty \(0 bytes\); the hub will not start/);

      // Deleting what the message names starts over on purpose.
      await rm(file);
      const s = Store.open(dir);
      assert.equal(s.tokens.maxRevokeSeq(), 0);
      s.close();
      assert.ok(existsSync(path.join(dir, STORE_FILE)));
    } finally {
      await t.cleanup();
    }
  });
});
