import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import path from 'node:path';
import { Store, STORE_FILE, migrate, migrations, type Migration } from '../../../hub/store/index.ts';
import { backup, status, summary, tempDir } from '../helpers.ts';

describe('hub store', () => {
  it('creates dataDir/hub.sqlite in WAL mode at the latest schema version; reopening is a no-op', async () => {
    const t = await tempDir();
    try {
      const dir = path.join(t.dir, 'nested', 'data');
      const s1 = Store.open(dir);
      assert.equal(s1.file, path.join(dir, STORE_FILE));
      assert.equal(s1.db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(s1.schemaVersion, migrations.at(-1)!.version);
      s1.agents.recordHello('a1', '1.0', [summary('s1')], '2024-01-01T00:00:00.000Z');
      s1.close();
      const s2 = Store.open(dir);
      assert.equal(s2.db.pragma('user_version', { simple: true }), migrations.at(-1)!.version);
      assert.deepEqual(s2.agents.get('a1')?.servers, [summary('s1')]);
      assert.ok(s2.healthy());
      s2.close();
      assert.equal(s2.healthy(), false);
    } finally {
      await t.cleanup();
    }
  });

  it('applies only newer migrations, each atomically, and refuses a schema from the future', () => {
    const db = new Sqlite(':memory:');
    const applied: number[] = [];
    const list: Migration[] = [
      { version: 1, name: 'one', up: (d) => (applied.push(1), d.exec('CREATE TABLE t1 (x INTEGER)')) },
      { version: 2, name: 'two', up: (d) => (applied.push(2), d.exec('CREATE TABLE t2 (x INTEGER)')) },
    ];
    assert.equal(migrate(db, list.slice(0, 1)), 1);
    assert.equal(migrate(db, list), 2);
    assert.deepEqual(applied, [1, 2]);
    const broken: Migration[] = [...list, { version: 3, name: 'broken', up: (d) => (d.exec('CREATE TABLE t3 (x INTEGER)'), d.exec('NOT SQL')) }];
    assert.throws(() => migrate(db, broken));
    assert.equal(db.pragma('user_version', { simple: true }), 2);
    assert.equal(db.prepare("SELECT name FROM sqlite_master WHERE name = 't3'").get(), undefined);
    assert.throws(() => migrate(db, list.slice(0, 1)), /newer than this hub understands/);
    db.close();
  });

  it('tables: snapshots, record events, catalog, discord messages, audit', async () => {
    const t = await tempDir();
    const s = Store.open(t.dir);
    try {
      s.snapshots.upsert('a1', status('s1', { state: 'running' }));
      s.snapshots.upsert('a1', status('s1', { state: 'stopped' }));
      assert.deepEqual(s.snapshots.list().map((r) => [r.serverId, r.agentId, r.status.state]), [['s1', 'a1', 'stopped']]);

      assert.equal(s.events.insert('a1', 1, 'alert', { x: 1 }, 'now'), true);
      assert.equal(s.events.insert('a1', 1, 'alert', { x: 2 }, 'now'), false);
      assert.deepEqual(s.events.list('a1').map((e) => e.data), [{ x: 1 }]);
      s.agents.ensure('a1', 'now');
      s.agents.raiseAckedSeq('a1', 5);
      s.agents.raiseAckedSeq('a1', 3);
      assert.equal(s.agents.ackedSeq('a1'), 5);

      s.backups.upsert('a1', backup('b1', 's1', '2024-01-01T00:00:00.000Z', ['local', 'r:x']));
      s.backups.upsert('a1', backup('b2', 's1', '2024-01-03T00:00:00.000Z'));
      s.backups.upsert('a1', backup('b3', 's1', '2024-01-02T00:00:00.000Z'));
      assert.deepEqual(s.backups.list('s1').map((b) => b.id), ['b2', 'b3', 'b1']);
      assert.deepEqual(s.backups.removeDestination('s1', 'b1', 'local')?.destinations.map((d) => d.target), ['r:x']);
      assert.equal(s.backups.removeDestination('s1', 'b1', 'r:x'), null);
      assert.equal(s.backups.get('s1', 'b1'), null);
      assert.equal(s.backups.removeDestination('s1', 'b2', null), null);
      assert.deepEqual(s.backups.list('s1').map((b) => b.id), ['b3']);

      s.discordMessages.set('c1', 'board:0', 'm1');
      s.discordMessages.set('c1', 'board:0', 'm2');
      assert.equal(s.discordMessages.get('c1', 'board:0'), 'm2');
      assert.deepEqual(s.discordMessages.listChannel('c1'), [{ slot: 'board:0', messageId: 'm2' }]);
      s.discordMessages.remove('c1', 'board:0');
      assert.equal(s.discordMessages.get('c1', 'board:0'), null);

      s.audit.append({ at: 'a', actor: { kind: 'discord', id: 'u1', name: 'Ann' }, action: 'server.stop', serverId: 's1', outcome: 'denied', detail: null });
      s.audit.append({ at: 'b', actor: { kind: 'api', id: 'api' }, action: 'server.start', serverId: 's2', outcome: 'ok', detail: 'x' });
      assert.deepEqual(s.audit.recent(10).map((e) => e.action), ['server.start', 'server.stop']);
      assert.deepEqual(s.audit.recent(10, 's1').map((e) => [e.actor, e.outcome]), [[{ kind: 'discord', id: 'u1', name: 'Ann' }, 'denied']]);
    } finally {
      s.close();
      await t.cleanup();
    }
  });
});
