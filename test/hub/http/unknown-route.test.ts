import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiRoutes } from '../../../hub/http/api.ts';
import { API_TOKEN, startHub, tempDir } from '../helpers.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Every concrete path a described route stands for: {id} → an id, {a|b} → each of a and b. */
function expand(route: string): { method: string; path: string }[] {
  const [method, template] = route.split(' ') as [string, string];
  let paths = [template.replaceAll('{id}', 'no-such-id')];
  for (;;) {
    const m = /\{([^}]*)\}/.exec(paths[0]!);
    if (!m) break;
    paths = paths.flatMap((p) => m[1]!.split('|').map((alt) => p.replace(m[0], alt)));
  }
  return paths.map((p) => ({ method, path: p }));
}

test('an unknown API route answers 404 with the list of real routes and no reference to a missing document', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const hub = await startHub(dir);
  t.after(() => hub.close());
  const auth = { Authorization: `Bearer ${API_TOKEN}` };

  const res = await fetch(`${hub.url}/api/v1/serverz`, { headers: auth });
  assert.equal(res.status, 404);
  const body = (await res.json()) as { ok: boolean; error: { code: string; message: string } };
  assert.equal(body.ok, false);
  const routes = apiRoutes();
  assert.ok(routes.length >= 8);
  for (const r of routes) assert.ok(body.error.message.includes(r), `the answer lists ${r}`);
  // Any document the answer names is one an operator has.
  for (const [, doc] of body.error.message.matchAll(/([\w./-]+\.md)\b/g)) assert.ok(existsSync(path.join(repo, doc!)), `${doc} exists`);
  assert.match(readFileSync(path.join(repo, 'README.md'), 'utf8'), /^## HTTP API$/m, 'the section the answer points to');

  // Every listed route is served: none answers "no API endpoint" (an unknown server id is fine).
  for (const route of routes) {
    for (const { method, path: p } of expand(route)) {
      const r = await fetch(`${hub.url}${p}`, { method, headers: { ...auth, 'Content-Type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) });
      const text = await r.text();
      assert.doesNotMatch(text, /no API endpoint/, `${method} ${p}`);
    }
  }
});
