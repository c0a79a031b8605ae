import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { silentLogger } from '../../../lib/logger.ts';
import { systemClock } from '../../../protocol/index.ts';
import { EventLog } from '../../../hub/events/event-log.ts';
import { Store } from '../../../hub/store/index.ts';
import { tempDir } from '../helpers.ts';

test('the event store keeps the newest maxEvents; a listener still gets every new event', async (t) => {
  const tmp = await tempDir();
  const store = Store.open(tmp.dir);
  t.after(async () => { store.close(); await tmp.cleanup(); });
  const log = new EventLog({ store, service: new EventEmitter() as never, logger: silentLogger, clock: systemClock, maxEvents: 500 });
  let seen = 0;
  log.subscribe(() => { seen += 1; });
  for (let i = 0; i < 2500; i += 1) log.append({ at: new Date().toISOString(), kind: 'player_join', agentId: 'a', serverId: 's', message: `p${i}`, data: {} });
  assert.equal(seen, 2500);
  const left = store.hubEvents.list({ since: 0, limit: 5000 });
  assert.ok(left.length >= 500 && left.length < 1500, `kept ${left.length}`);
  assert.equal(left.at(-1)!.message, 'p2499', 'the newest are kept');
  log.close();
});
