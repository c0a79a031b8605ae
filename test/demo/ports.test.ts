// Picked ports come from below the OS's ephemeral range, where no connect() takes a local port
// between our check and the game's bind (the race that left a game crash-looping on EADDRINUSE).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { freePort, freeTcpPort } from '../../demo/ports.ts';

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

test('freePort and freeTcpPort pick bindable ports below the ephemeral range', async () => {
  const picked: number[] = [];
  for (let i = 0; i < 20; i++) picked.push(await freePort(), await freeTcpPort());
  for (const port of picked) {
    assert.ok(port >= 20_000 && port < Math.min(ephemeralLow, 32_768), `${port} is outside [20000, ${Math.min(ephemeralLow, 32_768)})`);
  }
  // Each is free: a server binds it.
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(picked[0], '127.0.0.1', resolve));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(new Set(picked).size > 30, 'spread over the range, not one port again and again');
});
