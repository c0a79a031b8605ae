import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHandlers } from '../../agent/handlers.ts';
import type { ServerUnit } from '../../agent/agent.ts';
import type { BackupEngine } from '../../agent/backup/engine.ts';
import type { Updater } from '../../agent/update/updater.ts';
import type { RestartScheduler } from '../../agent/scheduler/restart-scheduler.ts';
import { createPlatform } from '../../agent/platform.ts';
import { Supervisor } from '../../agent/supervisor/supervisor.ts';
import type { IntentStore, OperatorIntent } from '../../agent/supervisor/intent.ts';
import { ReconSyncError, type HandlerContext } from '../../protocol/index.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { LineAdmin, UdpPingProbe, makeSandbox, makeServer, memoryLogger, waitState } from './supervisor/helpers.ts';

/** A dependency these tests never reach: any use fails loudly. */
function unused<T extends object>(what: string): T {
  return new Proxy({} as T, { get: (_t, key) => { throw new Error(`${what}.${String(key)} is not part of this test`); } });
}

/** The supervisor's store, watched: every operator word the RPCs cause must arrive here. */
class WatchedStore implements IntentStore {
  saves: OperatorIntent[] = [];
  async load(): Promise<OperatorIntent> {
    return this.saves.at(-1) ?? 'run';
  }
  async save(intent: OperatorIntent): Promise<void> {
    this.saves.push(intent);
  }
}

const ctx = (): HandlerContext => ({ requestId: 'req-1', signal: AbortSignal.timeout(20_000) });

test('the RPC handlers take time from the injected clock', async () => {
  const clock = new FakeClock(Date.UTC(2030, 0, 2, 3, 4, 5));
  const handlers = createHandlers({
    unit: () => { throw new ReconSyncError('UNKNOWN_SERVER', 'none'); }, units: new Map(),
    engine: unused<BackupEngine>('engine'), updater: unused<Updater>('updater'), restarts: unused<RestartScheduler>('restarts'),
    clock, dataDir: '/nonexistent', agentSecrets: [],
  });
  assert.deepEqual(await handlers['agent.ping']!({}, ctx()), { now: Date.UTC(2030, 0, 2, 3, 4, 5) });
});

test('operator power RPCs reach the intent only through the supervisor (operator: true), a real game behind it', async () => {
  const box = await makeSandbox();
  const logs = memoryLogger();
  const store = new WatchedStore();
  const server = makeServer(box);
  const supervisor = new Supervisor({
    server, probe: new UdpPingProbe(box.gameDir), admin: new LineAdmin(box.gameDir),
    platform: createPlatform({ os: 'linux' }), dataDir: box.dataDir, logger: logs.logger, intent: store,
  });
  try {
    const unit: ServerUnit = { server, supervisor, admin: null, probe: null };
    const units = new Map([[server.id, unit]]);
    const handlers = createHandlers({
      unit: (id) => {
        const u = units.get(id);
        if (!u) throw new ReconSyncError('UNKNOWN_SERVER', id);
        return u;
      },
      units, engine: unused<BackupEngine>('engine'), updater: unused<Updater>('updater'), restarts: unused<RestartScheduler>('restarts'),
      clock: new FakeClock(), dataDir: box.dataDir, agentSecrets: [],
    });
    await supervisor.open();

    assert.deepEqual(await handlers['server.start']!({ serverId: server.id }, ctx()), { state: 'starting' });
    assert.deepEqual(store.saves, ['run']);
    await waitState(supervisor, 'running');

    const stopped = await handlers['server.stop']!({ serverId: server.id }, ctx());
    assert.equal(stopped.state, 'stopped');
    assert.deepEqual(store.saves, ['run', 'stop'], 'kept by the supervisor before it stopped the game');

    await handlers['server.restart']!({ serverId: server.id, warnAt: [] }, ctx());
    assert.deepEqual(store.saves, ['run', 'stop', 'run']);
    await waitState(supervisor, 'running');
    await supervisor.restart({ reason: 'scheduled restart' });
    await waitState(supervisor, 'running');
    await supervisor.stop();
    assert.deepEqual(store.saves, ['run', 'stop', 'run'], 'the agent\'s own restart and stop are not the operator\'s word');
  } finally {
    await supervisor.close();
    await box.cleanup();
  }
  assert.deepEqual(logs.errors(), []);
});
