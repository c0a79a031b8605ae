import dgram from 'node:dgram';
import net from 'node:net';

/** A free TCP port on loopback (the OS picks; there is a tiny race until the user binds it). */
export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A port free for both TCP and UDP, for games that use one number for both. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freeTcpPort(host);
    const sock = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      sock.once('error', () => resolve(false));
      sock.bind(port, host, () => resolve(true));
    });
    await new Promise<void>((resolve) => sock.close(() => resolve()));
    if (ok) return port;
  }
  throw new Error('no free port on loopback');
}
