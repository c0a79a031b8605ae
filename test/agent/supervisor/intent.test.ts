import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IntentFile, OperatorWord, type IntentStore, type OperatorIntent } from '../../../agent/supervisor/intent.ts';
import { FakeClock } from '../../support/fake-clock.ts';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'reconsync-intent-'));
}

test('IntentFile: the layout agents wrote before (<dataDir>/intent/<id>.stopped), stamped with the injected clock', async () => {
  const dir = await tempDir();
  try {
    const clock = new FakeClock(Date.UTC(2031, 4, 6, 7, 8, 9));
    const store = new IntentFile(dir, 'ark-1', clock);
    const file = path.join(dir, 'intent', 'ark-1.stopped');
    assert.equal(await store.load(), 'run', 'no record: no operator stop');
    await store.save('stop');
    assert.equal(await readFile(file, 'utf8'), '2031-05-06T07:08:09.000Z');
    assert.equal(await new IntentFile(dir, 'ark-1', clock).load(), 'stop', 'a new agent reads it');
    assert.equal(await new IntentFile(dir, 'other', clock).load(), 'run', 'one record per server');
    await store.save('run');
    assert.equal(existsSync(file), false);
    await store.save('run'); // nothing to remove is fine
    assert.equal(await store.load(), 'run');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('IntentFile: an unreadable record is an error naming the file, not "run" (which would start a game someone stopped)', async () => {
  const dir = await tempDir();
  try {
    // A directory where the record should be: reading it fails with EISDIR, as a permission problem would.
    await mkdir(path.join(dir, 'intent', 'ark-1.stopped'), { recursive: true });
    await assert.rejects(new IntentFile(dir, 'ark-1', new FakeClock()).load(), /cannot read the operator's stop record .*ark-1\.stopped.*EISDIR/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** An IntentStore in memory that counts what reached it. */
class CountingStore implements IntentStore {
  loads = 0;
  saves: OperatorIntent[] = [];
  value: OperatorIntent;
  failLoads = 0;
  constructor(value: OperatorIntent) {
    this.value = value;
  }
  async load(): Promise<OperatorIntent> {
    this.loads++;
    if (this.failLoads-- > 0) throw new Error('disk hiccup');
    return this.value;
  }
  async save(intent: OperatorIntent): Promise<void> {
    this.saves.push(intent);
    this.value = intent;
  }
}

test('OperatorWord reads its store once, retries a failed read, and can take a save back', async () => {
  const store = new CountingStore('stop');
  store.failLoads = 1;
  const word = new OperatorWord(store);
  await assert.rejects(word.read(), /disk hiccup/);
  assert.equal(await word.read(), 'stop', 'a failed read is not remembered');
  assert.equal(await word.read(), 'stop');
  assert.equal(store.loads, 2);

  const undo = await word.keep('run');
  assert.equal(await word.read(), 'run');
  await undo();
  assert.equal(await word.read(), 'stop');
  assert.deepEqual(store.saves, ['run', 'stop']);
  assert.equal(store.loads, 2, 'its own saves are known without reading');
});
