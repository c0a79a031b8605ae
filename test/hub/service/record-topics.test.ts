import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventTopics, isRecordTopic, type EventData, type EventTopic, type RecordTopic } from '../../../protocol/index.ts';
import type { RecordEvt } from '../../../hub/link/session.ts';
import { ingestRecord } from '../../../hub/service/ingest.ts';
import { Store } from '../../../hub/store/index.ts';
import { sampleBackup } from '../../fuzz/corpus.ts';
import { tempDir } from '../helpers.ts';

const at = '2024-01-01T00:00:00.000Z';
const serverId = sampleBackup.serverId;
const info = { appId: 896660, branch: 'public', installedBuild: '1', latestBuild: '2', available: true, checkedAt: at, last: null };

/**
 * One valid record per record topic. Typed by protocol's RecordTopic, so a topic added to
 * protocol/events.ts fails typechecking here until the hub has been taught it and a sample added.
 */
const samples: { [T in RecordTopic]: EventData<T> } = {
  alert: { serverId, kind: 'crashed', message: 'exit code 1', at },
  'backup.completed': sampleBackup,
  'backup.updated': { ...sampleBackup, locked: true },
  'backup.removed': { serverId, backupId: sampleBackup.id, target: 'remote:bucket/valheim' },
  'restore.completed': { serverId, backupId: sampleBackup.id, ok: true, preRestoreBackupId: null, rolledBack: false, message: 'restored', at },
  'update.state': { ...info, serverId, event: 'available' },
};

test('every record topic protocol/ defines is stored by the hub, acked and has an effect (none falls through)', async () => {
  const recordTopics = (Object.keys(eventTopics) as EventTopic[]).filter((t) => isRecordTopic(t));
  // The runtime half of the check: a topic protocol/ gained without a sample here fails before any ingest.
  assert.deepEqual([...recordTopics].sort(), Object.keys(samples).sort());
  const t = await tempDir();
  const store = Store.open(t.dir);
  try {
    let seq = 0;
    for (const topic of recordTopics) {
      seq += 1;
      const evt = { type: 'evt', topic, seq, data: samples[topic as RecordTopic] } as RecordEvt;
      const result = ingestRecord(store, 'box-1', evt, at);
      assert.equal(result.accepted, true, `${topic}: not accepted`);
      assert.equal(result.ackedSeq, seq, `${topic}: not acked`);
      assert.ok(result.effect, `${topic}: the hub stored it but did nothing with it`);
    }
    assert.equal(store.events.list('box-1').length, recordTopics.length);
  } finally {
    store.close();
    await t.cleanup();
  }
});
