import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventTopics, isRecordTopic, type EventTopic } from '../../../protocol/index.ts';
import type { RecordEvt } from '../../../hub/link/session.ts';
import { ingestRecord } from '../../../hub/service/ingest.ts';
import { Store } from '../../../hub/store/index.ts';
import { topicSamples } from '../../fuzz/corpus.ts';
import { tempDir } from '../helpers.ts';

const at = '2024-01-01T00:00:00.000Z';

test('every record topic protocol/ defines is stored by the hub, acked and has an effect (none falls through)', async () => {
  // The samples are typed by protocol's topic list (test/fuzz/corpus.ts): a new topic needs one there before this compiles.
  const recordTopics = (Object.keys(eventTopics) as EventTopic[]).filter((t) => isRecordTopic(t));
  assert.ok(recordTopics.length > 0);
  const t = await tempDir();
  const store = Store.open(t.dir);
  try {
    let seq = 0;
    for (const topic of recordTopics) {
      seq += 1;
      assert.ok(topicSamples[topic] !== undefined, `${topic}: no sample in test/fuzz/corpus.ts`);
      assert.ok(eventTopics[topic].data.safeParse(topicSamples[topic]).success, `${topic}: the sample does not pass protocol's schema`);
      const evt = { type: 'evt', topic, seq, data: topicSamples[topic] } as RecordEvt;
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
