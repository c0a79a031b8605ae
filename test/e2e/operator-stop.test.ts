// A managed server an operator stopped stays down across an agent restart; one started again comes back with it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { createAgent, type Agent } from '../../agent/agent.ts';
import type { ServerView } from '../../hub/service/types.ts';
import { agentConfig, api, simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';

test('operator stop is remembered across agent restarts; start clears it', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  let stack: Stack | undefined;
  let agent: Agent | undefined;
  try {
    const ports = await simPorts();
    const world = path.join(dir, 'world');
    const servers = [{
      id: 'ark', game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, saveDir: world,
      start: { command: process.execPath, args: simArgs('ark', ports, world) },
      health: { intervalMs: 200, startGraceMs: 8000, failures: 3, queryTimeoutMs: 800 }, stop: { timeoutMs: 5000 },
    }];
    stack = await startStack(dir, servers);
    const s = stack;
    const state = async () => (await api<ServerView>(s.hub, 'GET', '/api/v1/servers/ark')).body.state;
    await waitFor(async () => (await state()) === 'running', 30_000, 'auto-started ark running');

    assert.equal((await api(s.hub, 'POST', '/api/v1/servers/ark/actions/stop')).status, 200);
    await s.agent.close();
    const config = agentConfig(dir, { id: 'e2e-agent', hub: { url: s.hub.agentUrl, token: s.token }, servers });
    agent = await createAgent({ config });
    assert.equal(agent.units.get('ark')!.supervisor.state, 'stopped', 'the restarted agent did not start what an operator stopped');
    await waitFor(() => s.hub.service.listAgents().find((a) => a.id === 'e2e-agent')?.connected, 15_000, 'agent back');

    assert.equal((await api(s.hub, 'POST', '/api/v1/servers/ark/actions/start')).status, 200);
    await waitFor(async () => (await state()) === 'running', 30_000, 'running after start');
    // Kill the game while no agent watches it: the next agent starts it again, since the operator's last word was "start".
    const pid = agent.units.get('ark')!.supervisor.pid!;
    await agent.close();
    agent = undefined;
    process.kill(pid, 'SIGKILL');
    await waitFor(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 10_000, 'game gone');
    agent = await createAgent({ config });
    await waitFor(async () => (await state()) === 'running', 30_000, 'auto-started again');
  } finally {
    for (const u of agent?.units.values() ?? []) await u.supervisor.stop().catch(() => undefined);
    await agent?.close();
    await stack?.hub.close();
    await cleanup();
  }
});
