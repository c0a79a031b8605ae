// Issue 7 §4: the audit log is complete. Every command through the API — start, stop,
// restart, backup, restore, RCON through the service — leaves exactly one entry with who
// (actor kind, id, address), what, which server and the outcome, failures included;
// reads leave none; the log survives a hub restart.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry, ServerView } from '../../hub/service/types.ts';
import { Store } from '../../hub/store/index.ts';
import type { BackupRecord } from '../../protocol/index.ts';
import { api, simArgs, simPorts, startStack, tempDir, waitFor, type Stack } from '../support/stack.ts';

type Answer<T> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } };
const SERVER = 'audit-ark';

describe('audit log', () => {
  let stack: Stack;
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir('reconsync-sec-audit-');
    dir = t.dir;
    cleanup = t.cleanup;
    const ports = await simPorts();
    const world = path.join(dir, 'world');
    stack = await startStack(dir, [{
      id: SERVER, game: 'ark', gamePort: ports.game, query: { host: '127.0.0.1', port: ports.query },
      rcon: { host: '127.0.0.1', port: ports.rcon, password: 'sim-secret' }, saveDir: world,
      start: { command: process.execPath, args: simArgs('ark', ports, world), cwd: dir },
      health: { intervalMs: 200, startGraceMs: 8000, failures: 3, queryTimeoutMs: 800 }, stop: { timeoutMs: 5000 },
      backup: { destinations: ['local'], settleMs: 100 },
    }]);
    await waitFor(async () => (await api<ServerView>(stack.hub, 'GET', `/api/v1/servers/${SERVER}`)).body.state === 'running', 30_000, 'running');
  });
  after(async () => {
    await stack?.close();
    await cleanup?.();
  });

  const entries = (): AuditEntry[] => stack.hub.service.recentAudit(1000);

  /** Runs one API call and returns the audit entries it added (newest first). */
  async function audited(method: string, p: string, body?: unknown): Promise<{ status: number; added: AuditEntry[] }> {
    const before = entries().length;
    const res = await api<Answer<unknown>>(stack.hub, method, p, body);
    return { status: res.status, added: entries().slice(0, entries().length - before) };
  }

  function assertEntry(e: AuditEntry | undefined, action: string, serverId: string | null, outcome: AuditEntry['outcome']): void {
    assert.ok(e, `an audit entry for ${action}`);
    assert.equal(e.action, action);
    assert.equal(e.serverId, serverId);
    assert.equal(e.outcome, outcome);
    // Who: the API token's holder, and from where.
    assert.deepEqual({ kind: e.actor.kind, id: e.actor.id }, { kind: 'api', id: 'api-token' });
    assert.equal(e.actor.name, '127.0.0.1');
    assert.ok(Math.abs(Date.parse(e.at) - Date.now()) < 60_000, `a real timestamp: ${e.at}`);
  }

  it('reads are not audited', async () => {
    const { added } = await audited('GET', '/api/v1/servers');
    assert.deepEqual(added, []);
    assert.deepEqual((await audited('GET', `/api/v1/servers/${SERVER}/backups`)).added, []);
  });

  it('stop, start, restart: one entry each, outcome ok', async () => {
    for (const action of ['stop', 'start', 'restart'] as const) {
      const r = await audited('POST', `/api/v1/servers/${SERVER}/actions/${action}`);
      assert.equal(r.status, 200, action);
      assert.equal(r.added.length, 1, `${action}: ${JSON.stringify(r.added)}`);
      assertEntry(r.added[0], `server.${action}`, SERVER, 'ok');
    }
  });

  let backupId = '';
  it('backup: one entry with the note; restore: one entry naming the backup', async () => {
    const b = await audited('POST', `/api/v1/servers/${SERVER}/actions/backup`, { note: 'audit me' });
    assert.equal(b.status, 200);
    assert.equal(b.added.length, 1);
    assertEntry(b.added[0], 'backup.create', SERVER, 'ok');
    assert.equal(b.added[0]!.detail, 'audit me');
    backupId = (await api<BackupRecord[]>(stack.hub, 'GET', `/api/v1/servers/${SERVER}/backups`)).body[0]!.id;

    const r = await audited('POST', `/api/v1/servers/${SERVER}/restore`, { backupId });
    assert.equal(r.status, 200);
    // The restore.completed record the agent sends may add an entry of its own; the API call is audited once.
    const mine = r.added.filter((e) => e.actor.kind === 'api');
    assert.equal(mine.length, 1, JSON.stringify(r.added));
    assertEntry(mine[0], 'backup.restore', SERVER, 'ok');
    assert.match(mine[0]!.detail ?? '', new RegExp(backupId));
  });

  it('failures are audited with their code: unknown backup, unknown server, busy', async () => {
    const bad = await audited('POST', `/api/v1/servers/${SERVER}/restore`, { backupId: '20000101-000000-dead' });
    assert.equal(bad.status, 404);
    assertEntry(bad.added.find((e) => e.actor.kind === 'api'), 'backup.restore', SERVER, 'error');
    assert.match(bad.added[0]!.detail ?? '', /^UNKNOWN_BACKUP/);

    const none = await audited('POST', '/api/v1/servers/no-such-server/actions/start');
    assert.equal(none.status, 404);
    assertEntry(none.added[0], 'server.start', 'no-such-server', 'error');
    assert.match(none.added[0]!.detail ?? '', /^UNKNOWN_SERVER/);

    const before = entries().length;
    const [x, y] = await Promise.all([
      api<Answer<unknown>>(stack.hub, 'POST', `/api/v1/servers/${SERVER}/actions/backup`),
      api<Answer<unknown>>(stack.hub, 'POST', `/api/v1/servers/${SERVER}/actions/backup`),
    ]);
    assert.deepEqual([x.status, y.status].sort(), [200, 409]);
    const added = entries().slice(0, entries().length - before).filter((e) => e.action === 'backup.create');
    assert.deepEqual(added.map((e) => e.outcome).sort(), ['error', 'ok']);
    assert.match(added.find((e) => e.outcome === 'error')!.detail ?? '', /^BUSY/);
  });

  it('RCON through the service layer is audited (verb only), and every entry is in the store (read back through a second handle)', async () => {
    await stack.hub.service.rcon(SERVER, 'listplayers', { kind: 'discord', id: '200000000000000003', name: 'adam' });
    const e = entries()[0]!;
    assert.deepEqual([e.action, e.serverId, e.outcome, e.detail, e.actor.id], ['server.rcon', SERVER, 'ok', 'listplayers', '200000000000000003']);

    const all = entries();
    const dataDir = path.join(dir, 'hub-data');
    const store = Store.open(dataDir);
    try {
      const persisted = store.audit.recent(1000).map(({ id: _id, ...rest }) => rest);
      assert.deepEqual(persisted, all);
    } finally {
      store.close();
    }
  });
});
