import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { BackupScheduler, type ScheduledTrigger } from '../../../agent/scheduler/scheduler.ts';
import { ReconSyncError } from '../../../protocol/index.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { tempDir } from '../backup/helpers.ts';

const HOUR = 3_600_000;

function harness(dataDir: string, clock: FakeClock, fail = false) {
  const runs: Array<{ serverId: string; trigger: ScheduledTrigger; at: string }> = [];
  const waiters: Array<() => void> = [];
  const scheduler = new BackupScheduler({
    dataDir,
    clock,
    run: async (serverId, trigger) => {
      runs.push({ serverId, trigger, at: new Date(clock.now()).toISOString() });
      waiters.splice(0).forEach((w) => w());
      if (fail) throw new Error('backup failed');
    },
  });
  /** Resolves once `n` runs happened. */
  const ran = async (n: number) => {
    const signal = AbortSignal.timeout(5_000);
    while (runs.length < n) {
      signal.throwIfAborted();
      await new Promise<void>((r) => {
        waiters.push(r);
        signal.addEventListener('abort', () => r(), { once: true });
      });
    }
  };
  /** Resolves once `n` loops are asleep (after a run the loop writes its state first: never advance before this). */
  const idle = (n = 1) => clock.sleeping(AbortSignal.timeout(5_000), () => clock.pending >= n);
  return { scheduler, runs, ran, idle };
}

test('runs at each slot of the cron expression, by the injected clock', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock(Date.UTC(2025, 0, 1, 10, 30));
  const h = harness(dir, clock);
  h.scheduler.start([{ serverId: 'a', schedule: '0 */6 * * *', timezone: 'UTC' }]);
  t.after(() => h.scheduler.stop());
  await h.idle();
  assert.equal(h.scheduler.nextRun('a')?.toISOString(), '2025-01-01T12:00:00.000Z');
  await clock.advance(1.5 * HOUR);
  await h.ran(1);
  await h.idle();
  await clock.advance(6 * HOUR);
  await h.ran(2);
  assert.deepEqual(h.runs, [
    { serverId: 'a', trigger: 'schedule', at: '2025-01-01T12:00:00.000Z' },
    { serverId: 'a', trigger: 'schedule', at: '2025-01-01T18:00:00.000Z' },
  ]);
  await h.idle(); // the run is recorded before the loop sleeps again
  const saved = JSON.parse(await fs.readFile(path.join(dir, 'scheduler', 'last-run.json'), 'utf8'));
  assert.equal(saved.servers.a, Date.UTC(2025, 0, 1, 18));
});

test('the schedule\'s timezone decides the wall-clock time', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock(Date.UTC(2025, 6, 1, 0, 0)); // summer: Berlin is UTC+2
  const h = harness(dir, clock);
  h.scheduler.start([{ serverId: 'a', schedule: '0 3 * * *', timezone: 'Europe/Berlin' }]);
  t.after(() => h.scheduler.stop());
  await h.idle();
  assert.equal(h.scheduler.nextRun('a')?.toISOString(), '2025-07-01T01:00:00.000Z');
});

test('a run missed while the agent was down runs once at start (catch-up), however many were missed', async (t) => {
  const dir = await tempDir(t);
  await fs.mkdir(path.join(dir, 'scheduler'));
  // Last handled at 06:00; the agent comes back at 19:10: the 12:00 and 18:00 runs were missed.
  await fs.writeFile(path.join(dir, 'scheduler', 'last-run.json'), JSON.stringify({ version: 1, servers: { a: Date.UTC(2025, 0, 1, 6), b: Date.UTC(2025, 0, 1, 19) } }));
  const clock = new FakeClock(Date.UTC(2025, 0, 1, 19, 10));
  const h = harness(dir, clock);
  h.scheduler.start([{ serverId: 'a', schedule: '0 */6 * * *', timezone: 'UTC' }, { serverId: 'b', schedule: '0 */6 * * *', timezone: 'UTC' }]);
  t.after(() => h.scheduler.stop());
  await h.ran(1);
  await h.idle(2);
  assert.deepEqual(h.runs, [{ serverId: 'a', trigger: 'catch-up', at: '2025-01-01T19:10:00.000Z' }], 'b was not due; a ran once');
  await clock.advance(5 * HOUR);
  await h.ran(3);
  assert.deepEqual(h.runs.slice(1).map((r) => `${r.serverId} ${r.trigger} ${r.at}`).sort(), ['a schedule 2025-01-02T00:00:00.000Z', 'b schedule 2025-01-02T00:00:00.000Z']);
});

test('a first start never catches up; a failed run does not stop the schedule; stop() ends the loops', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock(Date.UTC(2025, 0, 1, 23, 59));
  const h = harness(dir, clock, true);
  h.scheduler.start([{ serverId: 'a', schedule: '0 0 * * *' }]);
  await h.idle();
  assert.deepEqual(h.runs, []);
  await clock.advance(60_000);
  await h.ran(1);
  await h.idle();
  await clock.advance(24 * HOUR);
  await h.ran(2);
  await h.scheduler.stop();
  assert.equal(clock.pending, 0, 'no loop left sleeping');
});

test('a bad cron expression is refused up front, naming the server', () => {
  const clock = new FakeClock();
  const s = new BackupScheduler({ dataDir: '/nonexistent', clock, run: async () => undefined });
  assert.throws(() => s.start([{ serverId: 'valheim-main', schedule: 'every day at noon' }]), (e: unknown) => e instanceof ReconSyncError && /server valheim-main: backup.schedule "every day at noon"/.test(e.message));
});

test('long waits are cut into pieces, so a timer never overflows', async (t) => {
  const dir = await tempDir(t);
  const clock = new FakeClock(Date.UTC(2025, 0, 2));
  const h = harness(dir, clock);
  h.scheduler.start([{ serverId: 'a', schedule: '0 0 1 1 *', timezone: 'UTC' }]); // yearly
  t.after(() => h.scheduler.stop());
  await h.idle();
  assert.ok(clock.nextDue()! - clock.now() <= HOUR);
});
