import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { DEAD_AFTER_MS } from '../../protocol/index.ts';
import { STORE_FILE } from '../../hub/store/store.ts';
import { API_TOKEN, newToken, startHub, tempDir } from '../hub/helpers.ts';

// The operations README.md tells an operator to run, run here as written (paths moved to a temp dir).
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const readme = await readFile(path.join(repo, 'README.md'), 'utf8');

function run(file: string, args: string[], cwd = repo): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** The copy is a complete, consistent store: integrity ok and the hub's tables with their rows. */
function assertGoodCopy(file: string, tokens: number): void {
  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    assert.ok((db.pragma('user_version', { simple: true }) as number) >= 1, 'migrated schema');
    assert.equal((db.prepare('SELECT count(*) AS n FROM tokens').get() as { n: number }).n, tokens);
  } finally {
    db.close();
  }
}

test('the README\'s hub database backups work on a running hub: sqlite3 .backup and the container\'s VACUUM INTO', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const hub = await startHub(dir);
  t.after(() => hub.close());
  // State that must be in the copy, written by the running hub (WAL: not yet in the main file).
  for (const agent of ['eu-box-1', 'eu-box-2']) newToken(hub, agent);
  const res = await fetch(`${hub.url}/api/v1/agents`, { headers: { Authorization: `Bearer ${API_TOKEN}` } });
  assert.equal(res.status, 200);
  const tokensBefore = 2;

  // Container: the node one-liner, with /data moved to the temp dir (run from the repo, as /app in the image).
  const oneLiner = /exec hub node -e \\\n\s+"(.+)"\n/.exec(readme);
  assert.ok(oneLiner, 'README shows the container backup command');
  const js = oneLiner[1]!.replaceAll('\\"', '"').replaceAll('/data/', `${dir}/`);
  const vac = await run(process.execPath, ['-e', js]);
  assert.equal(vac.code, 0, vac.stderr);
  assertGoodCopy(path.join(dir, 'hub-backup.sqlite'), tokensBefore);

  // systemd install: sqlite3's online .backup, as written (without sudo -u, the store path moved).
  const line = /sudo -u reconsync (sqlite3 \S+ "\.backup '[^']+'")/.exec(readme);
  assert.ok(line, 'README shows the sqlite3 .backup command');
  if (!existsSync('/usr/bin/sqlite3')) return t.skip('sqlite3 is not installed');
  const target = path.join(dir, 'hub-copy.sqlite');
  const [, db] = /sqlite3 (\S+) /.exec(line[1]!)!;
  assert.equal(path.basename(db!), STORE_FILE, 'the README names the hub\'s store file');
  const backup = await run('/usr/bin/sqlite3', [path.join(dir, STORE_FILE), `.backup '${target}'`]);
  assert.equal(backup.code, 0, backup.stderr);
  assertGoodCopy(target, tokensBefore);
});

test('the README\'s reverse-proxy examples forward WebSocket upgrades and outlive the liveness window', () => {
  const nginx = /```nginx\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(nginx, 'an nginx example');
  assert.match(nginx, /proxy_http_version 1\.1;/);
  assert.match(nginx, /proxy_set_header Upgrade \$http_upgrade;/);
  assert.match(nginx, /proxy_set_header Connection \$connection_upgrade;/);
  assert.match(nginx, /map \$http_upgrade \$connection_upgrade/);
  assert.match(nginx, /proxy_pass http:\/\/127\.0\.0\.1:7780;/);
  const timeout = Number(/proxy_read_timeout (\d+)s;/.exec(nginx)?.[1]);
  assert.ok(timeout * 1000 > DEAD_AFTER_MS, `proxy_read_timeout ${timeout}s must exceed the ${DEAD_AFTER_MS / 1000}s liveness window`);
  assert.match(readme, /reverse_proxy 127\.0\.0\.1:7780/, 'a Caddy example');
  assert.match(readme, /trustProxy: true/);
  // The upgrade section names the file that holds the protocol major.
  assert.match(readme, /`PROTOCOL_MAJOR` in `protocol\/version\.ts`/);
});
