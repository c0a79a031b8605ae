// Issue 7 §2: the off-site copy fails with the real rclone binary: a remote that does not
// exist, and one that never answers (sftp to a socket that accepts and stays silent).
// The backup still succeeds locally, says which destination is unverified, and alerts the hub.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createAgent, type Agent } from '../../agent/agent.ts';
import type { Hub } from '../../hub/hub.ts';
import { createToken } from '../../hub/tokens.ts';
import type { BackupRecord } from '../../protocol/index.ts';
import type { HubAlert } from '../../hub/service/types.ts';
import { agentConfig, api, simPorts, spawnSim, tempDir, type RunningSim } from '../support/stack.ts';
import { AGENT_ID, arkEntry, FAST_LINK, startFastHub, waitFor, within } from './harness.ts';

const run = promisify(execFile);
type Answer = { ok: true; result: BackupRecord } | { ok: false; error: { code: string; message: string } };

/** One rclone invocation may take this long before the agent gives up on it. */
const RCLONE_TIMEOUT_MS = 1500;
const SFTP_PASSWORD = 'sftp-pass-never-shown-7f3a';

describe('rclone failures', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let hub: Hub;
  let agent: Agent;
  const sims: RunningSim[] = [];
  let silent: net.Server;
  const held: net.Socket[] = [];

  before(async () => {
    const t = await tempDir('reconsync-fault-rclone-');
    dir = t.dir;
    cleanup = t.cleanup;
    // A "server" that accepts TCP and never says a word: rclone's sftp handshake waits forever.
    silent = net.createServer((c) => {
      c.on('error', () => undefined);
      held.push(c);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const { stdout: obscured } = await run('rclone', ['obscure', SFTP_PASSWORD], { timeout: 10_000 });
    const rcloneConf = path.join(dir, 'rclone.conf');
    await writeFile(rcloneConf, `[stuck]\ntype = sftp\nhost = 127.0.0.1\nport = ${silentPort}\nuser = backup\npass = ${obscured.trim()}\n`);

    // Two servers, so both failures run side by side (each upload is tried 3 times with 2 s + 8 s pauses).
    const [pa, pb] = [await simPorts(), await simPorts()];
    const [wa, wb] = [path.join(dir, 'world-a'), path.join(dir, 'world-b')];
    sims.push(...(await Promise.all([spawnSim('ark', pa, wa, ['--save-bytes', '65536']), spawnSim('ark', pb, wb, ['--save-bytes', '65536'])])));
    hub = await startFastHub(path.join(dir, 'hub-data'));
    const token = createToken(hub.store, AGENT_ID);
    const a = { ...arkEntry(pa, wa, { destinations: ['local', 'nosuchremote:backups'] }), id: 'ark-a' };
    // keepLocal false: the local copy may only go once an off-site copy is verified, which never happens here.
    const b = { ...arkEntry(pb, wb, { destinations: ['local', 'stuck:backups'], keepLocal: false }), id: 'ark-b' };
    agent = await createAgent({
      config: agentConfig(dir, { id: AGENT_ID, hub: { url: hub.agentUrl, token }, rclone: { config: rcloneConf, timeoutMs: RCLONE_TIMEOUT_MS }, servers: [a, b] }),
      link: FAST_LINK,
      // Retries stay on (3 attempts) but close together, so the failure path is quick to test.
      backup: { uploadBackoffMs: 100 },
    });
    await waitFor(() => ['ark-a', 'ark-b'].every((id) => hub.service.listServers().find((v) => v.id === id)?.state === 'running'), 20_000, 'both servers running');
  });
  after(async () => {
    await agent?.close();
    await hub?.close();
    for (const s of sims) await s.stop();
    for (const c of held) c.destroy();
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    await cleanup?.();
  });

  it('a bad remote and a silent remote: local copy kept and verified, remote unverified with the reason, upload_failed at the hub', async () => {
    const alerts: HubAlert[] = [];
    hub.service.on('alert', (al) => alerts.push(al));
    const t0 = Date.now();
    const [ra, rb] = await within(Promise.all([
      api<Answer>(hub, 'POST', '/api/v1/servers/ark-a/actions/backup'),
      api<Answer>(hub, 'POST', '/api/v1/servers/ark-b/actions/backup'),
    ]), 40_000, 'two backups with failing remotes');
    const took = Date.now() - t0;

    for (const [res, target, why] of [[ra, 'nosuchremote:backups', /didn't find section in config file/], [rb, 'stuck:backups', /timed out after 2 s/]] as const) {
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.ok);
      const rec = res.body.result;
      assert.deepEqual(rec.destinations.map((d) => [d.target, d.verified]), [['local', true], [target, false]]);
      assert.match(rec.destinations[1]!.error ?? '', why);

      // The hub catalog shows the same: verified locally only.
      const listed = await waitFor(async () => (await api<BackupRecord[]>(hub, 'GET', `/api/v1/servers/${rec.serverId}/backups`)).body.find((x) => x.id === rec.id), 5000, 'the backup at the hub');
      assert.deepEqual(listed.destinations.map((d) => [d.target, d.verified]), [['local', true], [target, false]]);

      // The local archive is still there (for server b despite keepLocal: false).
      const local = path.join(dir, 'agent-data', 'backups', rec.serverId);
      assert.ok(existsSync(path.join(local, `${rec.id}.manifest.json`)));
      assert.ok(existsSync(path.join(local, `${rec.id}.tar.zst`)));

      const alert = await waitFor(() => alerts.find((al) => al.serverId === rec.serverId && al.kind === 'upload_failed'), 5000, `upload_failed for ${rec.serverId}`);
      assert.match(alert.message, new RegExp(`backup ${rec.id} to ${target.replace(':', ':')} failed after 3 attempts`));
      assert.match(alert.message, /local copy is kept/);
    }
    // Bounded: three attempts, each cut at rclone.timeoutMs, plus the two pauses; nothing waits on rclone's own minutes-long timeouts.
    assert.ok(took < 3 * RCLONE_TIMEOUT_MS + 10_000 + 8000, `took ${took} ms`);
    // The sftp password never travels: not in alerts, not in records.
    const everything = JSON.stringify({ alerts, a: ra.body, b: rb.body, events: hub.store.events.list(AGENT_ID) });
    assert.ok(!everything.includes(SFTP_PASSWORD));
  });
});
