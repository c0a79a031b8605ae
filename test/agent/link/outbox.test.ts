import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { Outbox } from '../../../agent/link/outbox.ts';
import { ReconSyncError, type Alert } from '../../../protocol/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { memoryLogger } from './log-sink.ts';

let dir: string;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'rs-outbox-')), 'outbox');
});
afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

const alert = (n: number): Alert => ({ serverId: 'valheim-main', kind: 'crashed', message: `crash ${n}`, at: new Date(0).toISOString() });
const lines = async () => (await readFile(join(dir, 'outbox.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { seq: number; data: Alert });
const seqs = (box: Outbox) => box.pending().map((r) => r.seq);

test('records survive a restart with their seqs, and seq keeps counting', async () => {
  const a = await Outbox.open(dir);
  assert.deepEqual(await Promise.all([a.append('alert', alert(1)), a.append('alert', alert(2)), a.append('alert', alert(3))]), [1, 2, 3]);
  await a.close();
  const b = await Outbox.open(dir);
  assert.deepEqual(seqs(b), [1, 2, 3]);
  assert.equal(b.lastSeq, 3);
  const frame = JSON.parse(b.pending()[1]!.frame) as { type: string; topic: string; seq: number; data: Alert };
  assert.deepEqual(frame, { type: 'evt', topic: 'alert', seq: 2, data: alert(2) });
  assert.equal(await b.append('alert', alert(4)), 4);
  await b.close();
});

test('concurrent appends keep call order in seqs and on disk', async () => {
  const box = await Outbox.open(dir);
  const got = await Promise.all(Array.from({ length: 50 }, (_, i) => box.append('alert', alert(i))));
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i + 1));
  await box.close();
  const onDisk = await lines();
  assert.deepEqual(onDisk.map((l) => l.seq), got);
  assert.deepEqual(onDisk.map((l) => l.data.message), got.map((s) => `crash ${s - 1}`));
});

test('a torn last line is ignored and cut off, never crashes', async () => {
  const { logger, find } = memoryLogger();
  const a = await Outbox.open(dir);
  await a.append('alert', alert(1));
  await a.append('alert', alert(2));
  await a.close();
  await appendFile(join(dir, 'outbox.jsonl'), '{"type":"evt","topic":"alert","seq":3,"data":{"serverId":"valh');
  const b = await Outbox.open(dir, { logger });
  assert.deepEqual(seqs(b), [1, 2]);
  assert.ok(find(/torn line/), 'the torn line is logged');
  assert.equal(await b.append('alert', alert(3)), 3);
  await b.close();
  // The new record did not glue onto the torn bytes.
  assert.deepEqual((await lines()).map((l) => l.seq), [1, 2, 3]);
  const c = await Outbox.open(dir);
  assert.deepEqual(seqs(c), [1, 2, 3]);
  await c.close();
});

test('damaged lines in the middle are set aside with a copy, the rest is kept', async () => {
  const { logger, find } = memoryLogger();
  const a = await Outbox.open(dir);
  await a.append('alert', alert(1));
  await a.append('alert', alert(2));
  await a.close();
  const text = await readFile(join(dir, 'outbox.jsonl'), 'utf8');
  const [l1, l2] = text.split('\n');
  await writeFile(join(dir, 'outbox.jsonl'), `${l1}\n{"type":"evt","topic":"alert","seq":9,"data":{}}\n\0\0\0\n${l2}\n`);
  const clock = new FakeClock();
  const b = await Outbox.open(dir, { logger, clock });
  assert.deepEqual(seqs(b), [1, 2]);
  assert.ok(find(/damaged or out of order/));
  assert.ok((await readdir(dir)).includes(`outbox.jsonl.damaged-${clock.now()}`), 'a copy of the damaged file is kept, named by the injected clock');
  assert.equal(await b.append('alert', alert(3)), 10, 'seq never goes below a number seen on disk');
  await b.close();
});

test('ack drops records at once and compacts the file once acked lines outnumber pending ones', async () => {
  const a = await Outbox.open(dir, { compactAfter: 2 });
  for (let i = 1; i <= 5; i++) await a.append('alert', alert(i));
  a.ack(1);
  assert.deepEqual(seqs(a), [2, 3, 4, 5]);
  assert.equal(a.ackedSeq, 1);
  await a.append('alert', alert(6)); // runs after any scheduled rewrite
  assert.equal((await lines()).length, 6, 'one acked line is not worth a rewrite');
  a.ack(4);
  assert.deepEqual(seqs(a), [5, 6]);
  await a.close(); // waits for the scheduled rewrite
  assert.deepEqual((await lines()).map((l) => l.seq), [5, 6]);
  const b = await Outbox.open(dir, { compactAfter: 2 });
  assert.deepEqual(seqs(b), [5, 6]);
  assert.equal(b.ackedSeq, 4);
  await b.close();
});

test('seq stays monotonic across a restart after everything was acked and compacted away', async () => {
  const a = await Outbox.open(dir, { compactAfter: 1 });
  for (let i = 1; i <= 3; i++) await a.append('alert', alert(i));
  a.ack(3);
  await a.close();
  assert.equal((await readFile(join(dir, 'outbox.jsonl'), 'utf8')).length, 0);
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'seq'), 'utf8')), { lastSeq: 3, ackedSeq: 3 });
  const b = await Outbox.open(dir);
  assert.equal(b.pendingCount, 0);
  assert.equal(await b.append('alert', alert(4)), 4);
  await b.close();
});

test('an ack for seqs never stored does not drop anything it should not', async () => {
  const { logger, find } = memoryLogger();
  const a = await Outbox.open(dir, { logger });
  await a.append('alert', alert(1));
  const second = a.append('alert', alert(2)); // not yet durable
  a.ack(99);
  assert.ok(find(/never stored/));
  assert.equal(await second, 2);
  assert.deepEqual(seqs(a), [2]);
  await a.close();
});

test('over its bounds it refuses new records loudly and keeps the oldest', async () => {
  const { logger, find } = memoryLogger();
  const a = await Outbox.open(dir, { maxRecords: 2, logger });
  await a.append('alert', alert(1));
  await a.append('alert', alert(2));
  await assert.rejects(a.append('alert', alert(3)), (err: unknown) => err instanceof ReconSyncError && err.code === 'DISK_FULL' && /outbox is full/.test(err.message));
  assert.ok(find(/outbox is full/));
  assert.deepEqual(seqs(a), [1, 2]);
  a.ack(1);
  assert.ok(find(/room again/));
  assert.equal(await a.append('alert', alert(3)), 3, 'a refused record burns no seq');
  await a.close();

  const bytes = await Outbox.open(join(dir, 'b'), { maxBytes: 300 });
  await bytes.append('alert', alert(1));
  await assert.rejects(bytes.append('alert', { ...alert(2), message: 'x'.repeat(400) }), /outbox is full/);
  await bytes.close();
});

test('data the hub would refuse is refused here, before it is stored', async () => {
  const a = await Outbox.open(dir);
  await assert.rejects(a.append('alert', { ...alert(1), kind: 'exploded' } as unknown as Alert), (err: unknown) => err instanceof ReconSyncError && err.code === 'INVALID_PARAMS');
  await assert.rejects(a.append('status' as 'alert', alert(1)), /not a record topic/);
  await assert.rejects(a.append('alert', { ...alert(1), message: 'y'.repeat(2001) }), /alert: message:/);
  assert.equal(a.pendingCount, 0);
  assert.equal(await a.append('alert', alert(1)), 1, 'refused records burn no seq');
  await a.close();
  await assert.rejects(a.append('alert', alert(2)), /closed/);
});

test('rebase renumbers unacked records above the seq the hub already holds', async () => {
  const a = await Outbox.open(dir);
  await a.append('alert', alert(1));
  await a.append('alert', alert(2));
  assert.equal(await a.rebase(1), false, 'nothing to do when the hub is behind');
  assert.equal(await a.rebase(10), true);
  assert.deepEqual(seqs(a), [11, 12]);
  assert.equal(a.ackedSeq, 10);
  assert.equal((JSON.parse(a.pending()[0]!.frame) as { seq: number }).seq, 11);
  assert.equal(await a.append('alert', alert(3)), 13);
  await a.close();
  const b = await Outbox.open(dir);
  assert.deepEqual(seqs(b), [11, 12, 13]);
  assert.deepEqual((await lines()).map((l) => l.data.message), ['crash 1', 'crash 2', 'crash 3']);
  await b.close();
});

test('onDurable sees each record once, in order, after it is on disk', async () => {
  const seen: number[] = [];
  const a = await Outbox.open(dir, {
    onDurable: (r) => {
      seen.push(r.seq);
      assert.ok(a.pending().some((p) => p.seq === r.seq));
    },
  });
  await Promise.all([1, 2, 3].map((i) => a.append('alert', alert(i))));
  assert.deepEqual(seen, [1, 2, 3]);
  await a.close();
});
