import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { FakeClock } from '../../support/fake-clock.ts';
import { startHarness, waitFor } from './harness.ts';

test('a bad token is logged clearly and retried with backoff; the bot logs in once the token is accepted', async (t) => {
  const h = await startHarness(t, { config: { token: 'not-the-right-token' }, waitReady: false });
  const line = await h.logs.waitFor((l) => String(l.msg).includes('rejected the bot token'));
  assert.equal(line.level, 50);
  await h.fake.waitFor(() => h.fake.callsMatching('GET', /^\/gateway\/bot$/).length >= 2, { what: 'a second login attempt' });
  assert.ok(h.fake.callsMatching('GET', /^\/gateway\/bot$/).every((c) => c.status === 401));
  assert.equal(h.bot.stats().connected, false);

  h.fake.setValidToken('not-the-right-token');
  await h.bot.waitUntilReady(AbortSignal.timeout(5000));
  assert.equal(h.bot.stats().connected, true);
  assert.ok(h.bot.stats().loginAttempts >= 2);
  assert.doesNotMatch(h.logs.raw.join(''), /not-the-right-token/, 'the token is never logged');
});

test('login retries wait on the injected clock with the shared Backoff: equal jitter, doubling to the cap', async (t) => {
  const clock = new FakeClock();
  const h = await startHarness(t, {
    config: { token: 'not-the-right-token' }, clock, random: () => 0.5, waitReady: false,
    options: { loginRetryInitialMs: 40_000, loginRetryMaxMs: 160_000 },
  });
  const signal = AbortSignal.timeout(10_000);
  // Window 40, 80, 160, 160 s; equal jitter with random 0.5 waits three quarters of it.
  for (const [attempt, waitMs] of [[1, 30_000], [2, 60_000], [3, 120_000], [4, 120_000]] as const) {
    const due = clock.now() + waitMs;
    await clock.sleeping(signal, (d) => d === due);
    assert.equal(h.bot.stats().loginAttempts, attempt);
    await clock.advance(waitMs);
  }
  assert.equal(h.bot.stats().connected, false);
});

test('an unreachable Discord is logged and retried, and close() stops the retries', async (t) => {
  // A port that was just free: nothing listens there.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const h = await startHarness(t, { config: { apiBaseUrl: `http://127.0.0.1:${port}/api` }, waitReady: false });
  await h.logs.waitFor((l) => String(l.msg).includes('cannot log in to Discord'), 10_000);
  await waitFor(() => h.bot.stats().loginAttempts >= 2, 10_000, 'a second login attempt');
  const started = Date.now();
  await h.bot.close(); // resolves only once the retry loop has ended
  assert.ok(Date.now() - started < 2000, 'close does not wait for the backoff');
  assert.equal(h.bot.stats().connected, false);
});

test('a gateway session that ends for good (4004) leads to a fresh login after a backoff', async (t) => {
  const h = await startHarness(t);
  assert.equal(h.fake.identifies, 1);
  h.fake.closeGatewaySessions(4004);
  const line = await h.logs.waitFor((l) => String(l.msg).includes('closed for good'));
  assert.equal(line.closeCode, 4004);
  await h.fake.waitFor(() => h.fake.identifies === 2, { what: 'a second IDENTIFY' });
  await h.bot.waitUntilReady(AbortSignal.timeout(5000));
  h.service.addServer('s1');
  const r = await h.fake.command({ name: 'status', user: { id: '200000000000000009' } }).reply();
  assert.match(r.embeds[0]?.description as string, /s1/);
  assert.equal(h.fake.callsMatching('PUT', /commands$/).length, 1, 'commands unchanged: not registered again');
  assert.deepEqual(h.fake.violations, []);
});
