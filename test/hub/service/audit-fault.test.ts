// Issue 10 §3 sibling: an action the agent carried out must not be reported as failed because the
// audit write after it hit a locked store (the caller would retry a stop or restore that already ran);
// the failed write shows as a store fault instead.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holdExclusiveLock } from '../../support/sqlite-lock.ts';
import { FakeAgent, backup, newToken, startHub, summary, tempDir } from '../helpers.ts';

test('an action that succeeded stays a success when its audit or catalog write fails; the store fault shows on /healthz', async (t) => {
  const { dir, cleanup } = await tempDir();
  const hub = await startHub(dir, { store: { busyTimeoutMs: 200, faultBusyTimeoutMs: 50 } });
  t.after(async () => {
    await hub.close();
    await cleanup();
  });
  const { agent } = await FakeAgent.online(hub, 'box-1', newToken(hub, 'box-1'), [summary('s1')]);
  t.after(() => agent.close());
  const made = backup('b-1', 's1', '2026-01-01T00:00:00.000Z');
  agent.serve((method) => (method === 'server.rcon' ? { output: 'saved' } : method === 'backup.create' ? made : null));

  const lock = await holdExclusiveLock(hub.store.file);
  try {
    const result = await hub.service.rcon('s1', 'save', { kind: 'api', id: 'api-token' });
    assert.deepEqual(result, { output: 'saved' });
    assert.equal(hub.store.health.current()?.op, 'audit');
    // The same for the catalog shortcut after backup.create: the backup exists, the caller must not be told otherwise.
    assert.equal((await hub.service.createBackup('s1', { kind: 'api', id: 'api-token' })).id, 'b-1');
    const res = await fetch(`${hub.url}/healthz`);
    assert.equal(res.status, 503);
    assert.match(((await res.json()) as { error: string }).error, /SQLITE_BUSY/);
  } finally {
    await lock.release();
  }
});
