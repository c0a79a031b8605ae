// Issue 11: the hub's per-server update facts (migration 3), and that forgetting a server drops them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from '../../../hub/store/index.ts';
import { purgeServer } from '../../../hub/service/forget.ts';
import type { UpdateInfo } from '../../../protocol/index.ts';
import { tempDir } from '../../support/stack.ts';

const info: UpdateInfo = { appId: 896660, branch: 'public', installedBuild: '100', latestBuild: '101', available: true, checkedAt: '2026-12-05T08:00:00.000Z', last: null };

test('update facts are stored per server, survive a reopen, and go with the server when its owner forgets it', async () => {
  const { dir, cleanup } = await tempDir('reconsync-store-');
  try {
    let store = Store.open(dir);
    store.updates.upsert('box-a', 'vh', info, '2026-12-05T08:00:00.000Z');
    store.close();
    store = Store.open(dir);
    assert.deepEqual(store.updates.get('vh'), info);
    purgeServer(store, 'vh', 'box-b');
    assert.deepEqual(store.updates.get('vh'), info, 'another agent\'s purge leaves them');
    purgeServer(store, 'vh', 'box-a');
    assert.equal(store.updates.get('vh'), null);
    store.close();
  } finally {
    await cleanup();
  }
});
