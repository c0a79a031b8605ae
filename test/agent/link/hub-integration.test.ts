/**
 * The agent link against the real hub (hub/hub.ts): token from hub/tokens.ts,
 * the agent shows up as connected in the API, comes back by itself after a
 * hub restart, and records cross the restart exactly once.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AgentLink } from '../../../agent/link/link.ts';
import { waitFor } from '../../support/wait.ts';
import { startHub, type Hub } from '../../../hub/hub.ts';
import { createToken, revokeToken } from '../../../hub/tokens.ts';
import type { Alert } from '../../../protocol/index.ts';

const API_TOKEN = 'api-token-0123456789abcdef';
const alert = (n: number): Alert => ({ serverId: 'valheim-main', kind: 'restarted', message: `restart ${n}`, at: new Date(0).toISOString() });

async function agents(hub: Hub): Promise<{ id: string; connected: boolean; version: string; servers: string[] }[]> {
  const res = await fetch(`${hub.url}/api/v1/agents`, { headers: { authorization: `Bearer ${API_TOKEN}` }, signal: AbortSignal.timeout(5_000) });
  assert.equal(res.status, 200);
  return (await res.json()) as { id: string; connected: boolean; version: string; servers: string[] }[];
}

test('agent connects to the real hub, survives a hub restart and delivers records exactly once', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'rs-link-hub-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const signal = AbortSignal.timeout(15_000);
  const config = (port: number) => ({ listen: { host: '127.0.0.1', port }, dataDir: join(root, 'hub'), api: { token: API_TOKEN } });
  let hub = await startHub({ config: config(0) });
  t.after(() => hub.close());
  const port = hub.port;
  const token = createToken(hub.store, 'box-1');

  const link = new AgentLink({
    url: hub.agentUrl,
    token,
    agentId: 'box-1',
    agentVersion: '0.1.0-test',
    dataDir: join(root, 'agent'),
    servers: () => [{ id: 'valheim-main', game: 'valheim', name: 'Valheim Main', managed: true }],
    handlers: { 'agent.ping': async () => ({ now: 1 }) },
    backoff: { baseMs: 20, capMs: 100 },
  });
  t.after(() => link.close());
  const firstWelcome = once(link, 'welcome', { signal });
  await link.start();
  assert.equal((await firstWelcome)[0].ackedSeq, 0);
  const listed = (await agents(hub)).find((a) => a.id === 'box-1');
  assert.equal(listed?.connected, true);
  assert.equal(listed?.version, '0.1.0-test');
  assert.deepEqual(listed?.servers, ['valheim-main']);
  assert.deepEqual(await link.callHub('hub.ping', {}).then((r) => typeof r.now), 'number');
  assert.equal(await link.publishRecord('alert', alert(1)), 1);
  await waitFor(() => hub.store.events.list('box-1').length === 1, { signal, what: 'record 1 in the hub store' });

  // Restart the hub on the same port: the agent notices and comes back by itself.
  const down = once(link, 'disconnected', { signal });
  await hub.close();
  await down;
  assert.equal(await link.publishRecord('alert', alert(2)), 2, 'recorded while the hub is away');
  const secondWelcome = once(link, 'welcome', { signal });
  hub = await startHub({ config: config(port) });
  const [welcome] = await secondWelcome;
  assert.equal(welcome.ackedSeq, 1, 'the hub stored record 1 before it went down');
  assert.equal((await agents(hub)).find((a) => a.id === 'box-1')?.connected, true);

  // Record 2 is re-sent after the welcome and stored exactly once, next to record 1.
  await waitFor(() => hub.store.events.list('box-1').length >= 2, { signal, what: 'record 2 in the hub store' });
  assert.deepEqual(hub.store.events.list('box-1').map((r) => [r.seq, (r.data as Alert).message]), [[1, 'restart 1'], [2, 'restart 2']]);
  const thirdWelcome = once(link, 'welcome', { signal });
  await hub.close();
  hub = await startHub({ config: config(port) });
  assert.equal((await thirdWelcome)[0].ackedSeq, 2);
  assert.equal(hub.store.events.list('box-1').length, 2);
});

test('the real hub replacing (4000) or revoking (4001) a session stops the agent link', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'rs-link-hub-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const signal = AbortSignal.timeout(15_000);
  const hub = await startHub({ config: { listen: { host: '127.0.0.1', port: 0 }, dataDir: join(root, 'hub'), api: { token: API_TOKEN } }, revocationPollMs: 50 });
  t.after(() => hub.close());
  const token = createToken(hub.store, 'box-1');
  const makeLink = (name: string) => {
    const link = new AgentLink({
      url: hub.agentUrl, token, agentId: 'box-1', agentVersion: '0.1.0-test', dataDir: join(root, name),
      servers: () => [], handlers: {}, backoff: { baseMs: 20, capMs: 100 },
    });
    t.after(() => link.close());
    return link;
  };
  const first = makeLink('a');
  await Promise.all([once(first, 'connected', { signal }), first.start()]);
  const replaced = once(first, 'stopped', { signal });
  const second = makeLink('b');
  await Promise.all([once(second, 'connected', { signal }), second.start()]);
  assert.equal((await replaced)[0].reason, 'replaced');
  assert.equal(first.connected, false);

  const revoked = once(second, 'stopped', { signal });
  revokeToken(hub.store, 'box-1');
  assert.equal((await revoked)[0].reason, 'revoked');
  assert.equal((await agents(hub)).find((a) => a.id === 'box-1')?.connected, false);
});
