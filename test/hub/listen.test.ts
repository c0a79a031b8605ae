// createHub builds, listen() binds (style.md "Build, don't listen"): a built hub holds no port, runs no
// extension, answers queries, and closes cleanly whether or not it ever listened.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createHub, type Hub, type HubExtension } from '../../hub/hub.ts';
import { ReconSyncError } from '../../protocol/index.ts';
import { API_TOKEN, signal, tempDir } from './helpers.ts';

/** A TCP server on 127.0.0.1:port (0 = a free one); resolves with it listening, or rejects (EADDRINUSE). */
async function occupy(port: number): Promise<net.Server> {
  const server = net.createServer();
  server.listen(port, '127.0.0.1');
  await Promise.race([once(server, 'listening', { signal: signal() }), once(server, 'error', { signal: signal() }).then(([err]) => Promise.reject(err as Error))]);
  return server;
}

async function release(server: net.Server): Promise<number> {
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const config = (dataDir: string, port: number) => ({ listen: { host: '127.0.0.1', port }, dataDir, api: { token: API_TOKEN } });

describe('createHub and listen()', () => {
  it('createHub binds no port and starts no extension; listen() binds config.listen and fills the address', async () => {
    const t = await tempDir();
    const port = await release(await occupy(0));
    const started: Hub[] = [];
    const extension: HubExtension = (hub) => {
      started.push(hub);
      return { close: async () => {} };
    };
    const built = await createHub({ config: config(t.dir, port), extensions: [extension] });
    try {
      assert.equal('url' in built, false, 'no address before listen()');
      assert.equal(started.length, 0, 'extensions start with listen()');
      // The port is still free: another server can take it while the hub is only built.
      await release(await occupy(port));
      // Built complete: the services answer without a port or a bind() step.
      assert.deepEqual(built.service.listServers(), []);
      await assert.rejects(built.service.router.call({ agentId: 'nobody' }, 'agent.ping', {}), (err) => err instanceof ReconSyncError && err.code === 'AGENT_OFFLINE');

      const hub = await built.listen();
      assert.equal(hub, built, 'listen() resolves with the same hub');
      assert.equal(hub.port, port);
      assert.equal(hub.url, `http://127.0.0.1:${port}`);
      assert.equal(hub.agentUrl, `ws://127.0.0.1:${port}/agent`);
      assert.deepEqual(started, [hub], 'the extension got the listening hub');
      assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
      await assert.rejects(occupy(port), /EADDRINUSE/, 'the hub holds the port now');
      assert.equal(await built.listen(), hub, 'a second listen() answers the same');
    } finally {
      await built.close();
      await t.cleanup();
    }
  });

  it('close() works on a hub that never listened; listen() after close() is refused', async () => {
    const t = await tempDir();
    try {
      const built = await createHub({ config: config(t.dir, 0) });
      await built.close();
      assert.equal(built.store.open, false, 'the store is closed');
      await built.close(); // idempotent
      await assert.rejects(built.listen(), /closed/);
    } finally {
      await t.cleanup();
    }
  });

  it('a failed bind leaves the hub built: listen() again once the port is free', async () => {
    const t = await tempDir();
    const blocker = await occupy(0);
    const { port } = blocker.address() as net.AddressInfo;
    let built: Awaited<ReturnType<typeof createHub>> | undefined;
    try {
      built = await createHub({ config: config(t.dir, port) });
      await assert.rejects(built.listen(), /EADDRINUSE/);
      await release(blocker);
      const hub = await built.listen();
      assert.equal(hub.port, port);
      assert.equal((await fetch(`${hub.url}/healthz`)).status, 200);
    } finally {
      if (blocker.listening) await release(blocker);
      await built?.close();
      await t.cleanup();
    }
  });
});
