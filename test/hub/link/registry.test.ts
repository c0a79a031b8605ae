import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { silentLogger } from '../../../lib/logger.ts';
import { SessionRegistry } from '../../../hub/link/registry.ts';
import type { Session } from '../../../hub/link/session.ts';
import { Store } from '../../../hub/store/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { tempDir } from '../helpers.ts';

/**
 * What the registry reads and calls on a session, nothing else: the registry
 * is under test here (its timers on the injected clock), the session's socket
 * handling is tested with real sockets in session.test.ts.
 */
function fakeSession(clock: FakeClock, agentId: string) {
  const ws = Object.assign(new EventEmitter(), { readyState: 1, CLOSED: 3, terminated: false, terminate() { this.terminated = true; } });
  const session = {
    agentId, tokenId: 1, logger: silentLogger, ws,
    lastHeard: clock.now(), lastPinged: 0, pings: [] as number[], ended: null as string | null,
    ping(now: number) { this.lastPinged = now; this.pings.push(now); },
    terminate(reason: string) { this.ended = reason; },
    close(_code: number, reason: string) { this.ended = reason; },
  };
  return session;
}

test('liveness sweeps and revocation polls run on the injected clock: pings every heartbeat, drops a silent agent after deadAfterMs', async (t) => {
  const { dir, cleanup } = await tempDir();
  const store = Store.open(dir);
  t.after(async () => {
    store.close();
    await cleanup();
  });
  const clock = new FakeClock();
  const registry = new SessionRegistry({ store, logger: silentLogger, heartbeatMs: 900, deadAfterMs: 3000, revocationPollMs: 500, clock });
  const s = fakeSession(clock, 'a1');
  const t0 = clock.now();
  registry.add(s as unknown as Session);
  registry.start();
  t.after(() => registry.stop());
  // Sweep every min(heartbeat, deadAfter)/3 = 300 ms: the first ping at 300, then every 900.
  await clock.advance(299);
  assert.deepEqual(s.pings, []);
  await clock.advance(1);
  assert.deepEqual(s.pings, [t0 + 300]);
  await clock.advance(2700);
  assert.deepEqual(s.pings, [t0 + 300, t0 + 1200, t0 + 2100, t0 + 3000]);
  assert.equal(s.ended, null, 'silent for exactly deadAfterMs is not yet dead');
  await clock.advance(300);
  assert.equal(s.ended, 'peer silent');
  registry.stop();
  assert.equal(clock.pending, 0, 'stop() leaves no timer armed');
});

test('closeAll waits the grace period on the injected clock, then cuts sockets that did not close', async (t) => {
  const { dir, cleanup } = await tempDir();
  const store = Store.open(dir);
  t.after(async () => {
    store.close();
    await cleanup();
  });
  const clock = new FakeClock();
  const registry = new SessionRegistry({ store, logger: silentLogger, heartbeatMs: 900, deadAfterMs: 3000, revocationPollMs: 500, clock });
  const quiet = fakeSession(clock, 'quiet');
  const polite = fakeSession(clock, 'polite');
  registry.add(quiet as unknown as Session);
  registry.add(polite as unknown as Session);
  let done = false;
  const closing = registry.closeAll(1001, 'bye', 1000).then(() => (done = true));
  assert.equal(quiet.ended, 'bye');
  polite.ws.emit('close');
  await clock.advance(999);
  assert.equal(done, false);
  assert.equal(quiet.ws.terminated, false);
  await clock.advance(1);
  assert.equal(done, true, 'closeAll settled at the grace deadline');
  await closing;
  assert.equal(quiet.ws.terminated, true);
  assert.equal(polite.ws.terminated, false);
});
