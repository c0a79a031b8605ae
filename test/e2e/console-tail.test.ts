// Issue 13 §4: GET /api/v1/servers/{id}/log reads the game's log on the agent (real hub, agent and sim), redacted, admin only.
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { api, simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';

test('console tail through the API: the last lines of the game log, with the RCON password redacted', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tempDir();
  let stack: Stack | undefined;
  try {
    const ports = await simPorts();
    stack = await startStack(dir, [{
      id: 'ark', game: 'ark', connect: 'play.example.org:7777', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, saveDir: path.join(dir, 'ark-world'),
      start: { command: process.execPath, args: simArgs('ark', ports, path.join(dir, 'ark-world')), autoStart: true },
      health: { intervalMs: 200, startGraceMs: 8000, failures: 2, queryTimeoutMs: 800 }, stop: { timeoutMs: 5000 },
    }]);
    const s = stack;
    const view = await waitFor(async () => {
      const r = await api<{ state: string; connect: string | null; playerDetail: string | null }>(s.hub, 'GET', '/api/v1/servers/ark');
      return r.body.state === 'running' && r.body;
    }, 30_000, 'ark running');
    assert.equal(view.connect, 'play.example.org:7777', 'agent.yaml connect reaches the server view');
    assert.equal(view.playerDetail, 'names', "the ark profile's query.players reaches the server view");
    // What the game prints lands in <dataDir>/logs/ark.log (the child writes to it directly).
    await appendFile(path.join(dir, 'agent-data', 'logs', 'ark.log'), 'Player Cy joined\nadmin typed: login sim-secret\nSaved world\n');
    const res = await api<{ lines: string[]; truncated: boolean }>(s.hub, 'GET', '/api/v1/servers/ark/log?lines=3');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.lines, ['Player Cy joined', 'admin typed: login [redacted]', 'Saved world']);
    assert.equal(res.body.truncated, true, 'the log holds more (the launcher\'s command-line header)');
    const all = await api<{ lines: string[] }>(s.hub, 'GET', '/api/v1/servers/ark/log');
    assert.ok(!all.body.lines.join('\n').includes('sim-secret'), 'the command line in the header is redacted too');
    assert.equal((await api(s.hub, 'GET', '/api/v1/servers/ark/log?lines=0')).status, 400);
    assert.equal((await api(s.hub, 'GET', '/api/v1/servers/nope/log')).status, 404);
  } finally {
    await stack?.close();
    await cleanup();
  }
});
