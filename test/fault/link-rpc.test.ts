// Issue 7 §2: the link cut, stalled and slowed down in the middle of RPCs.
// Calls must settle with the right code (never hang) and the agent must come back by itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BackupRecord } from '../../protocol/index.ts';
import { api, tempDir } from '../support/stack.ts';
import { AGENT_ID, completedRecords, FAST_HUB, FAST_LINK, outcome, SERVER_ID, startFaultStack, waitFor, within, type FaultStack } from './harness.ts';

type Answer = { ok: true; result: BackupRecord } | { ok: false; error: { code: string; message: string } };

describe('link faults during RPCs', () => {
  let s: FaultStack;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir('reconsync-fault-rpc-');
    cleanup = t.cleanup;
    // A save that keeps writing for 1.5 s: each backup RPC stays in flight long enough to hit it.
    s = await startFaultStack(t.dir, { simArgs: ['--save-duration-ms', '1500', '--save-bytes', '262144'] });
  });
  after(async () => {
    await s?.close();
    await cleanup?.();
  });

  /** Starts a backup through the API and resolves once the agent reports it is working on it. */
  async function backupInFlight(): Promise<{ call: Promise<{ status: number; body: Answer }> }> {
    const started = new Promise<void>((resolve) => {
      const onProgress = (p: { serverId: string; phase: string }) => {
        if (p.serverId !== SERVER_ID || (p.phase !== 'saving' && p.phase !== 'settling')) return;
        s.hub.service.off('backupProgress', onProgress);
        resolve();
      };
      s.hub.service.on('backupProgress', onProgress);
    });
    const call = api<Answer>(s.hub, 'POST', `/api/v1/servers/${SERVER_ID}/actions/backup`);
    await within(started, 10_000, 'backup progress from the agent');
    return { call };
  }

  /**
   * Resolves once the hub has pinged the agent's session at or after `at` (hub clock): the hub's
   * liveness sweep has looked at the session then, so an agent it thought dead would be gone.
   */
  async function hubPingedSince(at: number, what: string): Promise<void> {
    await waitFor(() => (s.hub.link.registry.get(AGENT_ID)?.lastPinged ?? 0) >= at, 10_000, what);
  }

  it('a cut mid-call fails it with DISCONNECTED at once; the agent reconnects by itself; the outcome arrives once', async () => {
    const connectionsBefore = s.proxy.connections;
    const { call } = await backupInFlight();
    const cutAt = Date.now();
    s.proxy.cut();
    const res = await within(call, 5000, 'the API call after a cut');
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.ok === false && res.body.error.code, 'DISCONNECTED');
    assert.ok(Date.now() - cutAt < 2000, `answered ${Date.now() - cutAt} ms after the cut`);

    // Back by itself through the proxy, and the backup the agent kept running is reported once.
    await waitFor(() => s.hub.link.registry.get(AGENT_ID)?.open && s.agent.link.connected, 10_000, 'the agent back online');
    assert.ok(s.proxy.connections > connectionsBefore, 'a new TCP connection was made');
    const done = await waitFor(async () => (await s.agent.engine.list(SERVER_ID)).find((b) => b.trigger === 'manual'), 15_000, 'the backup finished on the agent');
    await waitFor(() => completedRecords(s.hub, AGENT_ID, done.id) > 0 && s.agent.link.pendingRecords === 0, 10_000, 'backup.completed at the hub');
    assert.equal(completedRecords(s.hub, AGENT_ID, done.id), 1);
    assert.equal(s.hub.service.listBackups(SERVER_ID).filter((b) => b.id === done.id).length, 1);

    // The audit log shows the call failed with the code the caller saw.
    const audit = s.hub.service.recentAudit(5, SERVER_ID).find((e) => e.action === 'backup.create');
    assert.equal(audit?.outcome, 'error');
    assert.match(audit?.detail ?? '', /^DISCONNECTED/);

    // And the next call works.
    const ping = await within(s.hub.service.router.call({ agentId: AGENT_ID }, 'agent.ping', {}), 5000, 'agent.ping after reconnect');
    assert.equal(typeof ping.now, 'number');
  });

  it('a stall mid-call (no FIN, no RST) ends in DISCONNECTED by dead-peer detection, not a hang', async () => {
    const before = s.hub.service.listBackups(SERVER_ID).length;
    const { call } = await backupInFlight();
    const stalledAt = Date.now();
    s.proxy.stall();
    const res = await within(call, 10_000, 'the API call during a stall');
    const waited = Date.now() - stalledAt;
    assert.ok(res.body.ok === false && ['DISCONNECTED', 'TIMEOUT'].includes(res.body.error.code), JSON.stringify(res.body));
    // Dead after 800 ms of silence, checked every 100 ms: well before any RPC timeout (backup.create: 1 h).
    assert.ok(waited >= FAST_HUB.deadAfterMs - 100 && waited < FAST_HUB.deadAfterMs + 2500, `settled ${waited} ms after the stall`);
    // The agent notices too (its own deadAfterMs) and is offline at the hub.
    await waitFor(() => !s.agent.link.connected, FAST_LINK.deadAfterMs + 3000, 'the agent to notice the dead link');
    assert.equal(s.hub.link.registry.get(AGENT_ID)?.open ?? false, false);

    s.proxy.resume();
    await waitFor(() => s.hub.link.registry.get(AGENT_ID)?.open && s.agent.link.connected, 10_000, 'the agent back after the stall');
    await waitFor(async () => (await s.agent.engine.list(SERVER_ID)).length > before, 15_000, 'the stalled backup finished on the agent');
    const newest = (await s.agent.engine.list(SERVER_ID))[0]!;
    await waitFor(() => completedRecords(s.hub, AGENT_ID, newest.id) === 1 && s.agent.link.pendingRecords === 0, 10_000, 'its record at the hub');
    assert.equal(completedRecords(s.hub, AGENT_ID, newest.id), 1);
  });

  it('a stall shorter than deadAfterMs costs latency, not the call', async () => {
    const call = outcome(s.hub.service.router.call({ agentId: AGENT_ID }, 'agent.ping', {}, { timeoutMs: 5000 }));
    s.proxy.stall();
    // Held across a few of the hub's heartbeats (about half the dead-peer limit): nothing may be declared dead.
    await hubPingedSince(Date.now() + FAST_HUB.deadAfterMs / 2, 'the hub to ping across half the dead-peer window');
    s.proxy.resume();
    const r = await within(call, 5000, 'agent.ping across a short stall');
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.ok(s.agent.link.connected);
  });

  it('a slow link (150 ms each way) keeps working: RPCs succeed and take at least the round trip', async () => {
    const sessionBefore = s.agent.link.sessionId;
    s.proxy.delay(150);
    try {
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const r = await within(s.hub.service.router.call({ agentId: AGENT_ID }, 'agent.ping', {}, { timeoutMs: 5000 }), 6000, 'agent.ping on a slow link');
        assert.equal(typeof r.now, 'number');
        assert.ok(Date.now() - t0 >= 290, `round trip ${Date.now() - t0} ms`);
      }
      // Heartbeats kept the session alive: latency below deadAfterMs is not death. The hub's sweep has
      // looked at the session past a whole dead-peer window, and the agent's own watchdog likewise.
      const windowEnd = Date.now() + FAST_HUB.deadAfterMs + 200;
      await hubPingedSince(windowEnd, 'the hub to ping past a whole dead-peer window');
      assert.equal(s.hub.link.registry.get(AGENT_ID)?.open, true);
      assert.equal(s.agent.link.sessionId, sessionBefore, 'no reconnect on a slow but live link');
    } finally {
      s.proxy.delay(0);
    }
  });

  it('a call to an agent whose link is down fails at once with AGENT_OFFLINE', async () => {
    s.proxy.refuse(true);
    s.proxy.cut();
    try {
      await waitFor(() => !s.hub.link.registry.get(AGENT_ID)?.open, 5000, 'the session gone at the hub');
      const t0 = Date.now();
      const res = await within(api<Answer>(s.hub, 'POST', `/api/v1/servers/${SERVER_ID}/actions/backup`), 5000, 'backup with the agent offline');
      assert.equal(res.status, 503);
      assert.equal(res.body.ok === false && res.body.error.code, 'AGENT_OFFLINE');
      assert.ok(Date.now() - t0 < 1000);
    } finally {
      s.proxy.refuse(false);
    }
    await waitFor(() => s.hub.link.registry.get(AGENT_ID)?.open, 10_000, 'the agent back');
  });
});
