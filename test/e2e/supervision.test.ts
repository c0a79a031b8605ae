// Issue 3 "done means": a watched valheim and a managed ark, through the HTTP API.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { ServerView } from '../../hub/service/types.ts';
import { api, simArgs, simPorts, spawnSim, startStack, tempDir, waitFor, type RunningSim, type Stack } from '../support/stack.ts';

const fastHealth = { intervalMs: 200, startGraceMs: 8000, failures: 2, queryTimeoutMs: 800 };

async function server(stack: Stack, id: string): Promise<ServerView> {
  const res = await api<ServerView>(stack.hub, 'GET', `/api/v1/servers/${id}`);
  assert.equal(res.status, 200);
  return res.body;
}

test('watched and managed servers: status, hang window, API actions, crash recovery and crash-loop limit', { timeout: 120_000 }, async (t) => {
  const { dir, cleanup } = await tempDir();
  let watched: RunningSim | undefined;
  let stack: Stack | undefined;
  try {
    const vhPorts = await simPorts();
    watched = await spawnSim('valheim', vhPorts, path.join(dir, 'vh-world'), ['--players', 'Ann,Bo', '--max-players', '10']);
    const arkPorts = await simPorts();
    stack = await startStack(dir, [
      { id: 'vh', game: 'valheim', gamePort: vhPorts.game, query: { host: '127.0.0.1', port: vhPorts.query }, saveDir: path.join(dir, 'vh-world'), health: fastHealth },
      {
        id: 'ark', game: 'ark', gamePort: arkPorts.game, query: { host: '127.0.0.1', port: arkPorts.query },
        rcon: { host: '127.0.0.1', port: arkPorts.rcon, password: 'sim-secret' }, saveDir: path.join(dir, 'ark-world'),
        start: { command: process.execPath, args: simArgs('ark', arkPorts, path.join(dir, 'ark-world'), ['--players', 'Cy,Di,Ed', '--max-players', '70', '--command-log', path.join(dir, 'ark-commands.jsonl')]) },
        restart: { onCrash: true, maxPerHour: 2, backoffMs: 100 }, health: fastHealth, stop: { timeoutMs: 5000 },
      },
    ]);
    const s = stack;
    const list = await waitFor(async () => {
      const res = await api<ServerView[]>(s.hub, 'GET', '/api/v1/servers');
      return res.body.length === 2 && res.body.every((v) => v.state === 'running') && res.body;
    }, 30_000, 'both servers running');
    const vh = list.find((v) => v.id === 'vh')!;
    assert.deepEqual({ online: vh.players.online, max: vh.players.max }, { online: 2, max: 10 });
    assert.equal(vh.managed, false);
    const ark = list.find((v) => v.id === 'ark')!;
    assert.deepEqual({ online: ark.players.online, max: ark.players.max }, { online: 3, max: 70 });
    assert.equal(ark.agentId, 'e2e-agent');
    assert.equal(ark.game, 'ark');

    await t.test('the watched server leaves running when its process dies, and is never started by the agent', async () => {
      await watched!.stop();
      await waitFor(async () => (await server(s, 'vh')).state !== 'running', 15_000, 'valheim state to leave running');
      const r = await api<{ ok: boolean; error: { code: string } }>(s.hub, 'POST', '/api/v1/servers/vh/actions/start');
      assert.equal(r.status, 422);
      assert.equal(r.body.error.code, 'NOT_MANAGED');
    });

    await t.test('stop, start and restart of the managed server through the API', async () => {
      const stop = await api<{ ok: boolean; result: { state: string; graceful: boolean } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/stop');
      assert.equal(stop.status, 200, JSON.stringify(stop.body));
      assert.equal(stop.body.result.graceful, true, 'ARK stops through RCON saveworld + doexit');
      await waitFor(async () => (await server(s, 'ark')).state === 'stopped', 10_000, 'ark stopped');
      const start = await api<{ ok: boolean }>(s.hub, 'POST', '/api/v1/servers/ark/actions/start');
      assert.equal(start.status, 200, JSON.stringify(start.body));
      await waitFor(async () => (await server(s, 'ark')).state === 'running', 20_000, 'ark running after start');
      const pidBefore = s.agent.units.get('ark')!.supervisor.pid;
      const restart = await api<{ ok: boolean }>(s.hub, 'POST', '/api/v1/servers/ark/actions/restart');
      assert.equal(restart.status, 200, JSON.stringify(restart.body));
      await waitFor(async () => (await server(s, 'ark')).state === 'running', 20_000, 'ark running after restart');
      assert.notEqual(s.agent.units.get('ark')!.supervisor.pid, pidBefore);
    });

    await t.test('a restart with warnings can be cancelled during the countdown: players told, nothing stopped', async () => {
      const pid = s.agent.units.get('ark')!.supervisor.pid;
      const restart = api<{ ok: boolean; error?: { code: string } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/restart', { warnAt: [60] });
      const commands = async () => (await readFile(path.join(dir, 'ark-commands.jsonl'), 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { command: string });
      await waitFor(async () => (await commands()).some((c) => /^broadcast .*restart/i.test(c.command)), 10_000, 'first restart warning broadcast');
      const cancel = await api<{ ok: boolean; result: { cancelled: boolean } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/cancel-restart');
      assert.equal(cancel.status, 200);
      assert.equal(cancel.body.result.cancelled, true);
      const res = await restart;
      assert.equal(res.status, 409);
      assert.equal(res.body.error?.code, 'CANCELLED');
      await waitFor(async () => (await commands()).some((c) => /^broadcast .*cancel/i.test(c.command)), 10_000, 'cancellation broadcast');
      assert.equal(s.agent.units.get('ark')!.supervisor.pid, pid, 'the game was not restarted');
      assert.equal((await server(s, 'ark')).state, 'running');
      const again = await api<{ ok: boolean; result: { cancelled: boolean } }>(s.hub, 'POST', '/api/v1/servers/ark/actions/cancel-restart');
      assert.equal(again.body.result.cancelled, false, 'nothing left to cancel');
    });

    await t.test('kill -9 of the managed game brings it back; a crash loop stops at the limit with an alert', async () => {
      const alerts: string[] = [];
      s.hub.service.on('alert', (a) => alerts.push(`${a.serverId}:${a.kind}`));
      const sup = s.agent.units.get('ark')!.supervisor;
      const first = sup.pid!;
      process.kill(first, 'SIGKILL');
      await waitFor(() => sup.pid !== null && sup.pid !== first && sup.state === 'running', 20_000, 'ark restarted after kill -9');
      await waitFor(() => alerts.includes('ark:crashed') && alerts.includes('ark:restarted'), 10_000, 'crashed + restarted alerts at the hub');
      // maxPerHour is 2: the second crash is restarted, the third gives up.
      const second = sup.pid!;
      process.kill(second, 'SIGKILL');
      await waitFor(() => sup.pid !== null && sup.pid !== second && sup.state === 'running', 20_000, 'second restart');
      process.kill(sup.pid!, 'SIGKILL');
      await waitFor(() => alerts.includes('ark:gave_up'), 20_000, 'gave_up alert');
      assert.equal((await server(s, 'ark')).state, 'crashed');
    });
  } finally {
    await stack?.close();
    await watched?.stop();
    await cleanup();
  }
});
