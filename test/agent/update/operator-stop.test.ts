import { test, describe, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AgentConfigSchema } from '../../../agent/config.ts';
import { createPlatform } from '../../../agent/platform.ts';
import { Supervisor } from '../../../agent/supervisor/supervisor.ts';
import { BackupEngine } from '../../../agent/backup/engine.ts';
import { Updater } from '../../../agent/update/updater.ts';
import { installBuild } from '../../../agent/update/install.ts';
import { SteamCmd } from '../../../agent/update/steamcmd.ts';
import type { ServerUnit } from '../../../agent/server-unit.ts';
import type { ResolvedServer } from '../../../agent/types.ts';
import type { UpdateStep } from '../../../protocol/index.ts';
import { SteamCmdStandIn, standInProgram } from '../../support/steamcmd/index.ts';
import { UdpPingProbe, gameAlive, makeSandbox, makeServer, memoryLogger, readPorts, waitGameUp, waitState, type Sandbox } from '../supervisor/helpers.ts';

const APP = 376030;

/**
 * A game update stops the game and starts it again at the end through the
 * supervisor's resumeAfterJob: an operator stop issued during the update wins
 * (no start, no health check, no rollback; the outcome says so). Real
 * Updater, Supervisor, game process, BackupEngine and the SteamCMD stand-in.
 */
describe('update: an operator stop during it is kept', () => {
  let box: Sandbox;
  let logs: ReturnType<typeof memoryLogger>;
  let sup: Supervisor;
  let engine: BackupEngine;
  let updater: Updater;
  let server: ResolvedServer;
  /** Called with each update step as it is reported, synchronously (the update goes on meanwhile). */
  let onStep: (step: UpdateStep) => void = () => undefined;

  beforeEach(async () => {
    box = await makeSandbox();
    logs = memoryLogger();
    onStep = () => undefined;
    const standIn = new SteamCmdStandIn(box.dir);
    standIn.install();
    await standIn.write({ apps: { [APP]: { name: 'Test Dedicated Server', branches: { public: { buildid: '100' } } } } });
    const installDir = path.join(box.dir, 'install');
    const steam = new SteamCmd({ path: standInProgram, os: 'linux', appCacheDir: standIn.appCacheDir, timeoutMs: 30_000, infoTimeoutMs: 30_000, logger: logs.logger });
    assert.equal((await installBuild(steam, { appId: APP, installDir, branch: 'public', validate: false, retries: 0, logger: logs.logger })).ok, true);
    await standIn.publish(APP, '101');

    const base = makeServer(box, { config: { installDir, backup: { destinations: ['local'] }, update: { check: '0 0 1 1 *', warnAt: [], waitForEmptyMinutes: 0 } } });
    server = { ...base, profile: { ...base.profile, steam: { appId: APP } } };
    await mkdir(server.savePaths[0]!, { recursive: true });
    await writeFile(path.join(server.savePaths[0]!, 'world.db'), 'a world');
    sup = new Supervisor({ server, probe: new UdpPingProbe(box.gameDir), admin: null, platform: createPlatform({ os: 'linux' }), dataDir: box.dataDir, logger: logs.logger });
    engine = new BackupEngine({
      dataDir: box.dataDir, rclone: { binary: 'rclone', timeoutMs: 30_000 }, logger: logs.logger, zstdPoolSize: 1,
      publishRecord: async () => undefined, publishState: () => undefined,
    });
    await engine.init([server]);
    const config = {
      ...AgentConfigSchema.parse({
        id: 'agent-1', hub: { url: 'ws://127.0.0.1:9/agent', token: 'x'.repeat(32) }, dataDir: box.dataDir,
        steamcmd: { path: standInProgram, appCacheDir: standIn.appCacheDir, retries: 0, retryDelayMs: 10 },
      }),
      configDir: box.dir, configFile: path.join(box.dir, 'agent.yaml'),
    };
    const unit: ServerUnit = { server, supervisor: sup, admin: null, probe: null };
    updater = new Updater({
      config, os: 'linux', units: new Map([[server.id, unit]]), engine, logger: logs.logger, pollMs: 20,
      freeSpace: async () => Number.MAX_SAFE_INTEGER,
      publishRecord: async () => undefined,
      publishState: (topic, data) => {
        if (topic === 'update.progress') onStep((data as { step: UpdateStep }).step);
      },
    });
    await sup.open();
    await sup.start();
    await waitState(sup, 'running');
    await waitGameUp(box.gameDir);
  });
  afterEach(async () => {
    await updater.close();
    if (sup.pid !== null) await sup.stop();
    await sup.close();
    await engine.close();
    await box.cleanup();
  });


  test('operator stop while SteamCMD runs: build installed, the game stays down, the intent says stop, the outcome says so', async () => {
    let stopping = null as Promise<unknown> | null;
    onStep = (step) => {
      // The update stopped the game before its backup; by the download it is down and held.
      if (step === 'download' && !stopping) stopping = sup.stop({ reason: 'operator', operator: true });
    };
    const last = await updater.apply(server.id, { warnMinutes: [], actor: 'test' }).done;
    assert.ok(stopping, 'the operator stop was issued during the update');
    await stopping;
    assert.equal(last.outcome, 'updated', last.message);
    assert.equal(last.to, '101');
    assert.match(last.message, /left stopped: an operator stopped it during the update/);
    assert.equal(sup.state, 'stopped');
    assert.equal(sup.pid, null);
    assert.equal(await gameAlive(box.gameDir), false, 'the game process is not running');
    assert.ok(existsSync(path.join(box.dataDir, 'intent', `${server.id}.stopped`)), 'the operator\'s stop is kept');
    assert.deepEqual(logs.errors(), []);
  });

  test('no operator stop: the game comes back on the new build', async () => {
    const last = await updater.apply(server.id, { warnMinutes: [], actor: 'test' }).done;
    assert.equal(last.outcome, 'updated', last.message);
    assert.match(last.message, /the server answers its status query/);
    await waitState(sup, 'running');
  });
});
