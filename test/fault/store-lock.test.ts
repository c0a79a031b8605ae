// Issue 10 §3 and §8: the hub's SQLite file locked by another process (BEGIN EXCLUSIVE) while an agent
// delivers records. The hub must never ack past a record it did not store, must keep the order, and must
// show the fault (/healthz 503 with the reason, store metrics) until writes succeed again.
// Before the fix, record 41 failed with "database is locked", 42 and 43 were stored once the lock was gone,
// the cumulative ack 43 made the agent drop 41 for good; and a hello that hit the lock closed the session
// with 4002, on which the agent stops reconnecting.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { AgentLink } from '../../agent/link/link.ts';
import type { Hub } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import type { Alert } from '../../protocol/index.ts';
import { holdExclusiveLock, type HeldLock } from '../support/sqlite-lock.ts';
import { tempDir } from '../support/stack.ts';
import { startFastHub, waitFor } from './harness.ts';

const AGENT = 'box-1';
const FIRST_SEQ = 41;
const alert = (n: number): Alert => ({ serverId: 'ark', kind: 'restarted', message: `record ${n}`, at: new Date(0).toISOString() });

interface Setup {
  hub: Hub;
  token: string;
  agentDir: string;
  link(): AgentLink;
}

async function setup(t: TestContext): Promise<Setup> {
  const { dir, cleanup } = await tempDir('reconsync-store-lock-');
  // A short busy timeout so the lock outlasts it within a test's time; the production default is 5 s.
  const hub = await startFastHub(path.join(dir, 'hub'), 0, { store: { busyTimeoutMs: 300, faultBusyTimeoutMs: 50 } });
  const token = createToken(hub.store, AGENT);
  // The agent and the hub already agree on records up to 40, so the next three are 41, 42, 43.
  hub.store.agents.ensure(AGENT, new Date().toISOString());
  hub.store.agents.raiseAckedSeq(AGENT, FIRST_SEQ - 1);
  const agentDir = path.join(dir, 'agent');
  await mkdir(path.join(agentDir, 'outbox'), { recursive: true });
  await writeFile(path.join(agentDir, 'outbox', 'seq'), JSON.stringify({ lastSeq: FIRST_SEQ - 1, ackedSeq: FIRST_SEQ - 1 }));
  const links: AgentLink[] = [];
  t.after(async () => {
    for (const l of links) await l.close();
    await hub.close();
    await cleanup();
  });
  const link = () => {
    const l = new AgentLink({
      url: hub.agentUrl,
      token,
      agentId: AGENT,
      agentVersion: '0.1.0-test',
      dataDir: agentDir,
      servers: () => [{ id: 'ark', game: 'ark', name: 'ARK', managed: true }],
      handlers: {},
      backoff: { baseMs: 20, capMs: 200 },
    });
    links.push(l);
    return l;
  };
  return { hub, token, agentDir, link };
}

const storedSeqs = (hub: Hub) => hub.store.events.list(AGENT).map((r) => r.seq);

async function healthz(hub: Hub): Promise<{ status: number; body: { status: string; error?: string } }> {
  const res = await fetch(`${hub.url}/healthz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as { status: string; error?: string } };
}

async function metrics(hub: Hub): Promise<string> {
  return (await fetch(`${hub.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
}

/** Holds the lock until record 41 failed against it; shows the fault on /healthz and /metrics meanwhile. */
async function failFirstRecord(s: Setup, link: AgentLink): Promise<HeldLock> {
  const lock = await holdExclusiveLock(s.hub.store.file);
  try {
    assert.equal(await link.publishRecord('alert', alert(FIRST_SEQ)), FIRST_SEQ);
    await waitFor(() => s.hub.store.health.current(), 10_000, 'the hub to notice the failed write');
    const health = await healthz(s.hub);
    assert.equal(health.status, 503, JSON.stringify(health.body));
    assert.match(health.body.error ?? '', /SQLITE_BUSY/);
    const text = await metrics(s.hub);
    assert.match(text, /reconsync_store_errors_total\{op="record",code="SQLITE_BUSY"\} [1-9]/);
    assert.match(text, /\nreconsync_store_up 0\n/);
    assert.equal(s.hub.store.agents.ackedSeq(AGENT), FIRST_SEQ - 1, 'nothing acked past the failed record');
  } catch (err) {
    await lock.release();
    throw err;
  }
  return lock;
}

async function expectAllStored(s: Setup, link: AgentLink): Promise<void> {
  await waitFor(() => storedSeqs(s.hub).length >= 3 && link.pendingRecords === 0, 15_000, 'records 41-43 stored and acked');
  assert.deepEqual(storedSeqs(s.hub), [41, 42, 43]);
  assert.deepEqual(s.hub.store.events.list(AGENT).map((r) => (r.data as Alert).message), ['record 41', 'record 42', 'record 43']);
  assert.equal(s.hub.store.agents.ackedSeq(AGENT), 43);
  // The fault clears once writes go through again.
  await waitFor(async () => (await healthz(s.hub)).status === 200, 5000, '/healthz 200 again');
  assert.match(await metrics(s.hub), /\nreconsync_store_up 1\n/);
}

test('a record that fails on a locked store is not skipped: 41 fails, 42 and 43 follow, all three are stored in order', async (t) => {
  const s = await setup(t);
  const link = s.link();
  const welcome = once(link, 'welcome', { signal: AbortSignal.timeout(10_000) });
  await link.start();
  assert.equal((await welcome)[0].ackedSeq, FIRST_SEQ - 1);

  const lock = await failFirstRecord(s, link);
  await lock.release();
  // The lock is gone before 42 and 43 exist: on the old code they were stored and acked, dropping 41.
  assert.equal(await link.publishRecord('alert', alert(42)), 42);
  assert.equal(await link.publishRecord('alert', alert(43)), 43);
  await expectAllStored(s, link);
});

test('an agent restarted while the store is locked delivers every record once the lock is gone', async (t) => {
  const s = await setup(t);
  const first = s.link();
  const welcome = once(first, 'welcome', { signal: AbortSignal.timeout(10_000) });
  await first.start();
  await welcome;

  const lock = await failFirstRecord(s, first);
  try {
    await first.close();
    // The restarted agent dials while the lock is still held: its hello fails on the store. The hub must
    // answer with a close code the agent retries on (not 4002, on which it stops for good).
    const second = s.link();
    const stopped = new Promise<string>((resolve) => second.once('stopped', (e) => resolve(e.reason)));
    await second.start();
    assert.equal(await second.publishRecord('alert', alert(42)), 42);
    assert.equal(await second.publishRecord('alert', alert(43)), 43);
    await waitFor(() => (s.hub.store.health.current()?.count ?? 0) >= 1 && second.pendingRecords === 3, 5000, 'records pending in the outbox');
    await lock.release();
    const outcome = await Promise.race([expectAllStored(s, second).then(() => 'stored'), stopped.then((r) => `agent stopped: ${r}`)]);
    assert.equal(outcome, 'stored');
  } finally {
    await lock.release();
  }
});
