import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { exitWithin, spawnSim, tempDir } from './helpers.ts';

interface Msg { Message: string; Identifier: number; Type: string; Stacktrace: string }

/** Collects every message; next() waits for the first match still unread. */
function inbox(ws: WebSocket) {
  const seen: Msg[] = [];
  let wake: (() => void) | null = null;
  ws.on('message', (d) => {
    seen.push(JSON.parse(String(d)) as Msg);
    wake?.();
  });
  return {
    seen,
    async next(match: (m: Msg) => boolean, ms = 3000): Promise<Msg> {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = seen.findIndex(match);
        if (i >= 0) return seen.splice(i, 1)[0]!;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching WebRCON message in ${ms} ms; saw ${JSON.stringify(seen)}`);
        await new Promise<void>((r) => {
          const timer = setTimeout(r, left);
          wake = () => {
            clearTimeout(timer);
            r();
          };
        });
        wake = null;
      }
    },
  };
}

describe('Rust WebRCON (child process)', () => {
  it('refuses a wrong password, answers by Identifier amid unsolicited lines, and SIGTERM saves then exits 0', async (t) => {
    const dir = await tempDir(t);
    const saveDir = path.join(dir, 'server', 'my_server_identity');
    const pidFile = path.join(dir, 'rust.pid');
    const sim = await spawnSim(['--game', 'rust', '--rcon-password', 's3cret', '--save-dir', saveDir, '--pid-file', pidFile,
      '--players', 'Scientist', '--chat-interval-ms', '200'], t);
    assert.equal((await readFile(pidFile, 'utf8')).trim(), String(sim.ready.pid));
    const url = `ws://127.0.0.1:${sim.ready.ports.rcon}`;

    const bad = new WebSocket(`${url}/wrong`);
    const [, res] = await once(bad, 'unexpected-response') as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 401);
    bad.on('error', () => undefined);
    bad.terminate();

    const ws = new WebSocket(`${url}/s3cret`);
    t.after(() => ws.terminate());
    const box = inbox(ws);
    await once(ws, 'open');
    ws.send(JSON.stringify({ Identifier: 1001, Message: 'serverinfo', Name: 'WebRcon' }));
    const info = await box.next((m) => m.Identifier === 1001);
    assert.equal(info.Type, 'Generic');
    assert.equal(info.Stacktrace, '');
    assert.deepEqual((JSON.parse(info.Message) as { Players: number; MaxPlayers: number }).Players, 1);
    assert.ok(box.seen.some((m) => m.Identifier === 0) || (await box.next((m) => m.Identifier === 0)), 'console noise with Identifier 0');

    ws.send(JSON.stringify({ Identifier: 1002, Message: 'say "wipe tonight"', Name: 'WebRcon' }));
    assert.equal((await box.next((m) => m.Identifier === 1002)).Message, '');
    const chat = await box.next((m) => m.Identifier === -1 && m.Message.includes('wipe tonight'));
    assert.equal(chat.Type, 'Chat');
    assert.equal((JSON.parse(chat.Message) as { Username: string }).Username, 'SERVER');
    await box.next((m) => m.Identifier === -1 && m.Message.includes('raid'), 3000);

    ws.send(JSON.stringify({ Identifier: 1003, Message: 'global.nonsense', Name: 'WebRcon' }));
    assert.match((await box.next((m) => m.Identifier === 1003)).Message, /^Unknown command/);

    const sav = path.join(saveDir, 'proceduralmap.3000.1337.261.sav');
    const walBefore = (await stat(path.join(saveDir, 'player.blueprints.5.db-wal'))).size;
    sim.child.kill('SIGTERM');
    assert.deepEqual(await exitWithin(sim.exited, 5000), { code: 0, signal: null });
    assert.match(sim.stderr(), /stopping \(SIGTERM\): saving first/);
    const buf = await readFile(sav);
    assert.equal(Number(buf.readBigUInt64BE(4)), 2, 'saved on SIGTERM');
    assert.ok((await stat(path.join(saveDir, 'player.blueprints.5.db-wal'))).size > walBefore, 'the WAL grew');
    await stat(`${sav}.1`);
    await assert.rejects(stat(pidFile), /ENOENT/, 'pid file removed on exit');
  });
});
