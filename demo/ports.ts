import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * Where picked ports come from: below the OS's ephemeral range. A port the OS hands
 * out for bind(0) comes from the range every outgoing connection takes its local
 * port from, so between our check and the game's bind, any connect() on the machine
 * (an agent dialing, a test's fetch) can take it, and the game fails with EADDRINUSE.
 * Linux names its range in ip_local_port_range (default 32768-60999); Windows and
 * macOS use 49152-65535. Below both, nothing takes a port unasked.
 */
const PICK_FLOOR = 20_000;
const PICK_CEILING = ephemeralLow() - 1;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return Math.min(low, 32_768);
  } catch {
    // not Linux: the IANA dynamic range starts at 49152, above the default below
  }
  return 32_768;
}

function candidate(): number {
  return PICK_FLOOR + Math.floor(Math.random() * (PICK_CEILING - PICK_FLOOR + 1));
}

function bindTcp(port: number, host: string): Promise<number | null> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen(port, host, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/** A free TCP port on loopback, outside the ephemeral range when the OS leaves room (there is a tiny race until the user binds it). */
export async function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  if (PICK_CEILING > PICK_FLOOR) {
    for (let i = 0; i < 50; i++) {
      const port = await bindTcp(candidate(), host);
      if (port !== null) return port;
    }
  }
  // An ephemeral range that starts very low leaves no room: let the OS pick.
  const port = await bindTcp(0, host);
  if (port === null) throw new Error('no free port on loopback');
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
