// Issue 7 §2: `kill -9` of the agent (a real child process started through the CLI)
// in the middle of a backup and in the middle of a restore.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import type { BackupRecord, EventData } from '../../protocol/index.ts';
import { api, simPorts, spawnSim, tempDir, type RunningSim } from '../support/stack.ts';
import {
  AGENT_ID, arkEntry, hashFiles, SERVER_ID, startAgentChild, startFastHub, waitFor, within, writeAgentYaml, type AgentChild,
} from './harness.ts';

type Answer<T> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } };
type RestoreOutcome = EventData<'restore.completed'>;

/** A big enough world (random bytes, incompressible) that archiving and extracting take a visible moment. */
const SAVE_BYTES = String(32 * 1024 * 1024);

describe('agent kill -9', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let hub: Hub;
  let sim: RunningSim | undefined;
  let agent: AgentChild | undefined;
  let configFile: string;
  let token: string;
  let world: string;
  let backupsDir: string;
  let restoreDir: string;
  const watchers: FSWatcher[] = [];

  const online = () => waitFor(() => hub.link.registry.get(AGENT_ID)?.open, 30_000, `the agent online (stderr: ${agent?.stderr() ?? ''})`);
  const restartAgent = async () => {
    agent = startAgentChild(configFile, token);
    await online();
  };
  /** Calls fn synchronously on every change in dir: the kill must land while the agent is between two steps, not a poll later. */
  const onChange = (watched: string, fn: () => void) => {
    const w = watch(watched, () => fn());
    watchers.push(w);
    return () => w.close();
  };

  before(async () => {
    const t = await tempDir('reconsync-fault-kill-');
    dir = t.dir;
    cleanup = t.cleanup;
    world = path.join(dir, 'ark-world');
    backupsDir = path.join(dir, 'agent-data', 'backups', SERVER_ID);
    restoreDir = path.join(dir, 'agent-data', 'restore');
    const ports = await simPorts();
    sim = await spawnSim('ark', ports, world, ['--save-bytes', SAVE_BYTES]);
    hub = await startFastHub(path.join(dir, 'hub-data'));
    token = createToken(hub.store, AGENT_ID);
    configFile = await writeAgentYaml(dir, hub.agentUrl, [arkEntry(ports, world)]);
    await restartAgent();
    await waitFor(() => hub.service.listServers().find((v) => v.id === SERVER_ID && v.state === 'running'), 20_000, 'ark running');
  });
  after(async () => {
    for (const w of watchers) w.close();
    await agent?.kill9();
    await sim?.stop();
    await hub?.close();
    await cleanup?.();
  });

  const backupNow = () => api<Answer<BackupRecord>>(hub, 'POST', `/api/v1/servers/${SERVER_ID}/actions/backup`);
  const catalog = async () => (await api<BackupRecord[]>(hub, 'GET', `/api/v1/servers/${SERVER_ID}/backups`)).body;

  it('during a backup: no .partial survives or counts, the catalog holds only good backups, the next backup works', async () => {
    const first = await backupNow();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.ok(first.body.ok);
    const good = first.body.result;

    // Kill the moment the half-written archive appears.
    let partial: string | null = null;
    const stopWatching = onChange(backupsDir, () => {
      if (partial) return;
      const p = readdirSync(backupsDir).find((n) => n.endsWith('.partial'));
      if (p) {
        partial = p;
        agent!.child.kill('SIGKILL');
      }
    });
    const call = backupNow();
    await within(agent!.exited(), 30_000, 'the agent killed mid-archive');
    stopWatching();
    assert.ok(partial, 'saw the .partial file');
    assert.ok(existsSync(path.join(backupsDir, partial)), 'killed while the archive was still being written');
    const failed = await within(call, 10_000, 'the API call of the killed backup');
    assert.equal(failed.status, 503);
    assert.equal(failed.body.ok === false && failed.body.error.code, 'DISCONNECTED');

    await restartAgent();
    // At start the agent sweeps the leftovers of the crash before it reports anything.
    const files = await readdir(backupsDir);
    assert.deepEqual(files.filter((n) => n.endsWith('.partial')), []);
    assert.deepEqual(files.filter((n) => !n.startsWith(good.id)), [], `only the good backup is on disk: ${files.join(', ')}`);
    assert.deepEqual((await catalog()).map((b) => b.id), [good.id]);
    const listed = await within(hub.service.router.call({ serverId: SERVER_ID }, 'backup.list', { serverId: SERVER_ID }), 10_000, 'backup.list');
    assert.deepEqual(listed.backups.map((b) => b.id), [good.id], 'the agent catalog holds only the good backup');

    const next = await backupNow();
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.ok(next.body.ok && next.body.result.destinations.every((d) => d.verified));
    assert.deepEqual((await catalog()).map((b) => b.id).sort(), [good.id, next.body.ok ? next.body.result.id : ''].sort());
  });

  /** What each backup holds, as file hashes over the files a backup takes (known states of the world). */
  const contentOf = new Map<string, Record<string, string>>();
  let rels: string[] = [];

  /**
   * Restores the backup whose content differs from the world, kills the agent once the
   * restore journal reaches `killAt`, restarts it, and checks the world is exactly the old
   * or exactly the new state, consistent with what the agent reports to the hub.
   */
  async function killDuringRestore(killAt: 'staging' | 'swapping' | 'swapped'): Promise<{ world: 'old' | 'new'; reported: RestoreOutcome | null; phase: string | null }> {
    const old = await hashFiles(world, rels);
    const same = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(a) === JSON.stringify(b);
    const target = [...contentOf].find(([, c]) => !same(c, old));
    assert.ok(target, 'a backup with other content than the world');
    const [targetId, fresh] = target;
    const known = new Set((await catalog()).map((b) => b.id));

    const reports: RestoreOutcome[] = [];
    const onRestore = (r: RestoreOutcome) => reports.push(r);
    hub.service.on('restoreCompleted', onRestore);
    let sawPhase: string | null = null;
    // The agent creates this folder with its first journal; it must exist to be watched.
    await mkdir(restoreDir, { recursive: true });
    const order = ['staging', 'swapping', 'swapped'];
    const stopWatching = onChange(restoreDir, () => {
      if (sawPhase) return;
      let phase: string;
      try {
        phase = (JSON.parse(readFileSync(path.join(restoreDir, `${SERVER_ID}.journal.json`), 'utf8')) as { phase: string }).phase;
      } catch {
        return; // not there yet, or between the atomic write's steps
      }
      if (order.indexOf(phase) >= order.indexOf(killAt)) {
        sawPhase = phase;
        agent!.child.kill('SIGKILL');
      }
    });
    try {
      const call = api<Answer<unknown>>(hub, 'POST', `/api/v1/servers/${SERVER_ID}/restore`, { backupId: targetId });
      const res = await within(call, 60_000, 'the restore call');
      assert.equal(res.status, 503, JSON.stringify(res.body));
      await within(agent!.exited(), 30_000, 'the agent killed mid-restore');
    } finally {
      stopWatching();
    }
    assert.ok(sawPhase, `the journal reached ${killAt} before the agent was killed`);

    await restartAgent();
    // Leftovers of the swap are gone: no staging or aside folders beside the world, no journal.
    await waitFor(() => !existsSync(path.join(restoreDir, `${SERVER_ID}.journal.json`)), 10_000, 'the journal resolved');
    assert.deepEqual(readdirSync(path.dirname(world)).filter((n) => n.includes('reconsync-')), []);

    const now = await hashFiles(world, rels);
    const which = same(now, old) ? 'old' : same(now, fresh) ? 'new' : null;
    assert.ok(which, `the world is neither entirely old nor entirely new (killed at journal phase ${sawPhase}): ${JSON.stringify({ now, old, fresh })}`);

    // What the agent reports about the interrupted restore matches the world it left.
    const reported = await waitFor(() => reports.find((r) => r.backupId === targetId), 10_000, 'restore.completed at the hub');
    assert.equal(which, reported.ok ? 'new' : 'old', `reported ${JSON.stringify(reported)} but the world is ${which}`);
    if (!reported.ok) assert.equal(reported.rolledBack, true);
    hub.service.off('restoreCompleted', onRestore);

    // A pre-restore copy taken in this round holds the old world.
    for (const b of await catalog()) if (!known.has(b.id) && b.trigger === 'pre-restore') contentOf.set(b.id, old);
    return { world: which, reported, phase: sawPhase };
  }

  it('restore setup: state A in a backup, state B on disk, the game stopped', async () => {
    const [newest] = await catalog();
    const manifest = JSON.parse(await readFile(path.join(backupsDir, `${newest!.id}.manifest.json`), 'utf8')) as { files: Array<{ path: string }> };
    // Manifest paths are "<root>/<relative path>"; a backup only ever holds these files.
    rels = manifest.files.map((f) => f.path.split('/').slice(1).join('/'));
    contentOf.set(newest!.id, await hashFiles(world, rels));
    await within(hub.service.rcon(SERVER_ID, 'saveworld', { kind: 'api', id: 'fault-test' }), 15_000, 'saveworld');
    assert.notDeepEqual(await hashFiles(world, rels), contentOf.get(newest!.id), 'the save changed the world');
    await sim!.stop();
    sim = undefined;
    await waitFor(() => !['running', 'starting', 'unresponsive'].includes(hub.service.getServer(SERVER_ID).state), 15_000, 'the server seen as down');
  });

  it('during a restore, killed while staging: the old world stays, reported as rolled back', async () => {
    const r = await killDuringRestore('staging');
    assert.equal(r.world, 'old');
    assert.equal(r.reported?.rolledBack, true);
  });

  it('during a restore, killed at the swap: the world is entirely old or entirely new', async (t) => {
    const r = await killDuringRestore('swapping');
    t.diagnostic(`killed at journal phase ${r.phase}; the world came back ${r.world}`);
  });

  it('during a restore, killed once the swap is journaled as done: the new world stays, reported as completed', async () => {
    const r = await killDuringRestore('swapped');
    assert.equal(r.world, 'new');
    assert.equal(r.reported?.ok, true);
  });
});
