// Issue 10 §8 sibling: the token lookup in the upgrade handler ran unguarded in the http server's
// 'upgrade' listener, so a store that could not be read threw there and ended the hub process.
// Now the agent gets 503 (retry) and the hub keeps serving.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newToken, refusedUpgrade, startHub, tempDir } from '../helpers.ts';
import { PROTOCOL_MAJOR } from '../../../protocol/index.ts';

test('an upgrade while the token store cannot be read is answered 503, not a crash', { timeout: 20_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  const hub = await startHub(dir);
  t.after(async () => {
    // Bounded: on the old code the unanswered upgrade socket kept hub.close() waiting for ever.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([hub.close(), new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
    await cleanup();
  });
  const token = newToken(hub, 'box-1');
  // The connection going away under the hub is the one store failure a test can cause on demand at this
  // point; every read then throws, as reads of a damaged file do.
  hub.store.db.close();
  const answer = await refusedUpgrade(hub.agentUrl, { Authorization: `Bearer ${token}`, 'X-ReconSync-Protocol': String(PROTOCOL_MAJOR) });
  assert.equal(answer.status, 503);
  assert.equal(answer.headers['retry-after'], '5');
  assert.match(answer.body, /store is unavailable/);
  const health = await fetch(`${hub.url}/healthz`);
  assert.equal(health.status, 503, 'the hub is still up and says why it is unhealthy');
  assert.match(((await health.json()) as { error: string }).error, /closed/);
});
