import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { Listener } from './context.ts';

/** Binds a TCP (or HTTP) server; resolves with the actual port. */
export async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('server has no TCP address');
  return addr.port;
}

/**
 * Tracks a server's sockets so close() can let the last replies drain
 * (a stop command's answer must reach the client) and then destroy the rest.
 */
export function tracked(server: Server, port: number): Listener {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return {
    port,
    async close(graceMs: number) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.end();
      if (graceMs > 0 && sockets.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          const check = () => {
            if (sockets.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          };
          for (const s of sockets) s.once('close', check);
        });
      }
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

export function remoteOf(s: Socket): string {
  return `${s.remoteAddress ?? '?'}:${s.remotePort ?? 0}`;
}
