// Issue 13 §6: scoped API keys made with the CLI (its own process) against the store of a running hub.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { API_TOKEN, startHub } from '../hub/helpers.ts';
import { runCli, tempDir } from '../support/stack.ts';


const cli = (args: string[]) => runCli(args);

test('apikey create/revoke: printed once, stored hashed, scopes enforced, actions audited by key name, revocation at once', { timeout: 60_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  const file = path.join(dir, 'hub.yaml');
  await writeFile(file, 'dataDir: ./hub-data\napi:\n  token: ${RECONSYNC_API_TOKEN}\n');
  const hub = await startHub(path.join(dir, 'hub-data'));
  t.after(async () => { await hub.close(); await cleanup(); });

  const made = await Promise.all(['read', 'operate', 'admin'].map((scope) => cli(['apikey', 'create', `k-${scope}`, '--scope', scope, '--config', file])));
  for (const m of made) assert.equal(m.code, 0, m.stderr);
  const [read, operate, admin] = made.map((m) => m.stdout.trim().split('\n').at(-1)!);
  assert.match(read!, /^rsk_[A-Za-z0-9_-]{43}$/);
  const db = await readFile(path.join(dir, 'hub-data', 'hub.sqlite'));
  assert.ok(!db.includes(Buffer.from(read!)), 'only a hash is stored');

  const call = async (key: string, method: string, p: string) => {
    const res = await fetch(`${hub.url}${p}`, { method, headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, body: await res.json() as { ok?: boolean; error?: { code: string; message: string } } };
  };
  assert.equal((await call(read!, 'GET', '/api/v1/servers')).status, 200);
  const refused = await call(read!, 'POST', '/api/v1/servers/nope/actions/start');
  assert.equal(refused.status, 403);
  assert.match(refused.body.error!.message, /scope read; POST \/api\/v1\/servers\/nope\/actions\/start needs operate/);
  assert.equal((await call(operate!, 'POST', '/api/v1/servers/nope/actions/start')).status, 404, 'operate may act (the server is unknown)');
  assert.equal((await call(operate!, 'POST', '/api/v1/servers/nope/restore')).status, 403);
  assert.equal((await call(operate!, 'DELETE', '/api/v1/servers/nope')).status, 403);
  assert.equal((await call(admin!, 'DELETE', '/api/v1/servers/nope')).status, 404);
  assert.equal((await call(API_TOKEN, 'DELETE', '/api/v1/servers/nope')).status, 404, 'the hub.yaml token stays the admin key');

  const audit = hub.store.audit.recent(50);
  assert.ok(audit.some((a) => a.actor.id === 'apikey:k-operate' && a.action === 'server.start' && a.outcome === 'error'), 'actions carry the key name');
  assert.ok(audit.some((a) => a.actor.id === 'apikey:k-read' && a.action === 'api.scope' && a.outcome === 'denied'));
  assert.ok(audit.some((a) => a.actor.kind === 'cli' && a.action === 'apikey.create' && a.detail === 'k-admin (admin)'));

  const dup = await cli(['apikey', 'create', 'k-read', '--scope', 'read', '--config', file]);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /named "k-read" exists/);
  const badScope = await cli(['apikey', 'create', 'k-x', '--scope', 'root', '--config', file]);
  assert.notEqual(badScope.code, 0);
  assert.match(badScope.stderr, /--scope must be one of read, operate, admin/);

  const revoked = await cli(['apikey', 'revoke', 'k-operate', '--config', file]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((await call(operate!, 'GET', '/api/v1/servers')).status, 401, 'revoked at once');
  assert.equal((await cli(['apikey', 'revoke', 'k-operate', '--config', file])).code, 1);
  const list = await cli(['apikey', 'list', '--config', file]);
  assert.match(list.stdout, /k-operate {2}operate {2}created .* revoked /);
  assert.ok(!list.stdout.includes('rsk_'), 'list never shows a key');
});
