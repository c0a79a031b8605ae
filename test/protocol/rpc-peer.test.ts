import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentMethods, hubMethods, ReconSyncError, RpcPeer, parseFrame, encodeFrame, type Handlers, type AgentMethods, type RpcFrame } from '../../protocol/index.ts';
import { waitFor } from '../support/wait.ts';

/** Two peers joined by a JSON wire, so every frame goes through encode + parse like on a socket. */
function pair(agentHandlers: Handlers<AgentMethods>) {
  let linkUp = true;
  const hub = new RpcPeer({ outgoing: agentMethods, incoming: hubMethods, handlers: {}, timeouts: {} });
  const agent = new RpcPeer({ outgoing: hubMethods, incoming: agentMethods, handlers: agentHandlers, timeouts: {} });
  const wire = (to: RpcPeer<any, any>) => (frame: RpcFrame) => {
    if (!linkUp) return false;
    const text = encodeFrame(frame);
    queueMicrotask(() => {
      const parsed = parseFrame(text);
      if (parsed.ok && (parsed.frame.type === 'req' || parsed.frame.type === 'res' || parsed.frame.type === 'cancel')) to.handle(parsed.frame);
    });
    return true;
  };
  hub.setSender(wire(agent));
  agent.setSender(wire(hub));
  return { hub, agent, setLink: (up: boolean) => { linkUp = up; } };
}

test('a call returns the typed result and validates params before sending', async () => {
  const { hub } = pair({ 'agent.ping': async () => ({ now: 42 }) });
  assert.deepEqual(await hub.call('agent.ping', {}), { now: 42 });
  await assert.rejects(hub.call('server.start', { serverId: '../x' } as never), (e: ReconSyncError) => e.code === 'INVALID_PARAMS');
});

test('unknown methods and bad params are answered with stable codes', async () => {
  const { hub } = pair({});
  await assert.rejects(hub.call('agent.ping', {}), (e: ReconSyncError) => e.code === 'UNKNOWN_METHOD');
});

test('handler errors travel with their code; other errors become INTERNAL', async () => {
  const { hub } = pair({
    'server.start': async () => { throw new ReconSyncError('BUSY', 'backup running'); },
    'server.stop': async () => { throw new Error('kaput'); },
  });
  await assert.rejects(hub.call('server.start', { serverId: 's' }), (e: ReconSyncError) => e.code === 'BUSY' && e.message === 'backup running');
  await assert.rejects(hub.call('server.stop', { serverId: 's' }), (e: ReconSyncError) => e.code === 'INTERNAL');
});

test('a request id already executed returns the first result instead of acting twice', async () => {
  let runs = 0;
  const { hub } = pair({ 'server.start': async () => ({ state: runs++ === 0 ? 'starting' : 'running' }) });
  const first = await hub.call('server.start', { serverId: 's' }, { id: 'same-id' });
  const second = await hub.call('server.start', { serverId: 's' }, { id: 'same-id' });
  assert.equal(runs, 1);
  assert.deepEqual(second, first);
});

test('timeout fails with TIMEOUT and cancels the handler', async () => {
  let aborted: unknown;
  const { hub } = pair({
    'server.restart': (_p, ctx) => new Promise((_res, rej) => ctx.signal.addEventListener('abort', () => { aborted = ctx.signal.reason; rej(ctx.signal.reason); })),
  });
  await assert.rejects(hub.call('server.restart', { serverId: 's' }, { timeoutMs: 20 }), (e: ReconSyncError) => e.code === 'TIMEOUT');
  await waitFor(() => aborted, { timeoutMs: 2000, everyMs: 1, what: 'the handler to be aborted' });
  assert.equal((aborted as ReconSyncError).code, 'CANCELLED');
});

test('caller abort gives CANCELLED; link loss gives DISCONNECTED; no link gives AGENT_OFFLINE', async () => {
  const never = () => new Promise<never>(() => {});
  const { hub, setLink } = pair({ 'backup.create': never, 'backup.list': never });
  const ctrl = new AbortController();
  const cancelled = hub.call('backup.create', { serverId: 's' }, { signal: ctrl.signal });
  ctrl.abort();
  await assert.rejects(cancelled, (e: ReconSyncError) => e.code === 'CANCELLED');

  const inFlight = hub.call('backup.list', { serverId: 's' });
  hub.disconnect();
  await assert.rejects(inFlight, (e: ReconSyncError) => e.code === 'DISCONNECTED');
  assert.equal(hub.pendingCount, 0);

  setLink(false);
  await assert.rejects(hub.call('agent.ping', {}), (e: ReconSyncError) => e.code === 'AGENT_OFFLINE');
});

test('a malformed result from the peer is an error, not a wrong type', async () => {
  const { hub } = pair({ 'agent.ping': async () => ({ now: 'soon' }) as never });
  await assert.rejects(hub.call('agent.ping', {}), (e: ReconSyncError) => e.code === 'INTERNAL' && /malformed result/.test(e.message));
});
