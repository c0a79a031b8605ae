import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RestartScheduler, type RestartEntry, type RestartOutcome } from '../../../agent/scheduler/restart-scheduler.ts';
import { FakeClock } from '../../support/fake-clock.ts';

const MIN = 60_000;

function setup(entry: Partial<RestartEntry> & { schedule: string }, start = '2026-03-02T04:00:00Z') {
  const clock = new FakeClock(Date.parse(start));
  const calls: { at: string; warnAt: number[] }[] = [];
  const outcomes: RestartOutcome[] = [];
  const state = { players: 0, running: true, hold: false, operatorStopped: false };
  const s = new RestartScheduler({
    clock,
    pollMs: MIN,
    onOutcome: (_id, o) => outcomes.push(o),
    target: () => ({
      running: () => state.running,
      players: () => state.players,
      restart: async ({ warnAt, signal }) => {
        calls.push({ at: new Date(clock.now()).toISOString(), warnAt });
        // Like the supervisor's countdown: the restart happens the largest warnAt later, unless cancelled.
        await clock.sleep(Math.max(0, ...warnAt) * 1000, signal);
        // Like the supervisor: an operator's stop during the wait or countdown keeps the game down.
        return state.operatorStopped ? { state: 'stopped', message: 'left stopped: an operator stopped it' } : { state: 'running' };
      },
    }),
  });
  s.start([{ serverId: 'vh', warnAt: [15, 5, 1], waitForEmptyMinutes: 0, timezone: 'UTC', ...entry }]);
  return { clock, s, calls, outcomes, state };
}

describe('scheduled restarts', () => {
  it('starts the countdown the largest warnAt before the scheduled time, so the game goes down on the minute', async () => {
    const { clock, s, calls, outcomes } = setup({ schedule: '0 5 * * *' });
    assert.equal(s.nextRun('vh')?.toISOString(), '2026-03-02T05:00:00.000Z');
    await clock.advance(44 * MIN);
    assert.equal(calls.length, 0);
    await clock.advance(1 * MIN);
    assert.deepEqual(calls, [{ at: '2026-03-02T04:45:00.000Z', warnAt: [900, 300, 60] }]);
    await clock.advance(15 * MIN);
    assert.deepEqual(outcomes, ['restarted']);
    assert.equal(s.nextRun('vh')?.toISOString(), '2026-03-03T05:00:00.000Z');
    await clock.advance(24 * 60 * MIN);
    assert.equal(calls.length, 2, 'once a day, not twice for one time');
    await s.stop();
  });

  it('follows the schedule\'s timezone', async () => {
    const { clock, s, calls } = setup({ schedule: '0 5 * * *', timezone: 'Europe/Berlin', warnAt: [] }, '2026-01-10T00:00:00Z');
    assert.equal(s.nextRun('vh')?.toISOString(), '2026-01-10T04:00:00.000Z');
    await clock.advance(4 * 60 * MIN);
    assert.deepEqual(calls.map((c) => c.at), ['2026-01-10T04:00:00.000Z']);
    await s.stop();
  });

  it('a run whose restart an operator stop kept down reports skipped_operator_stop, not restarted', async () => {
    const { clock, s, calls, outcomes, state } = setup({ schedule: '0 5 * * *', warnAt: [5] });
    await clock.advance(56 * MIN);
    assert.equal(calls.length, 1, 'the countdown began');
    state.operatorStopped = true;
    await clock.advance(5 * MIN);
    assert.deepEqual(outcomes, ['skipped_operator_stop']);
    await s.stop();
  });

  it('skipIfPlayersAbove waits up to waitForEmptyMinutes for players to leave, then restarts', async () => {
    const { clock, s, calls, outcomes, state } = setup({ schedule: '0 5 * * *', warnAt: [5], skipIfPlayersAbove: 0, waitForEmptyMinutes: 30 });
    state.players = 2;
    await clock.advance(55 * MIN);
    assert.equal(calls.length, 0, 'players on: waiting');
    state.players = 0;
    await clock.advance(1 * MIN);
    assert.equal(calls.length, 1);
    await clock.advance(5 * MIN);
    assert.deepEqual(outcomes, ['restarted']);
    await s.stop();
  });

  it('skips the run when players stay on past waitForEmptyMinutes, and runs the next day', async () => {
    const { clock, s, calls, outcomes, state } = setup({ schedule: '0 5 * * *', warnAt: [1], skipIfPlayersAbove: 1, waitForEmptyMinutes: 10 });
    state.players = 2;
    await clock.advance(80 * MIN);
    assert.deepEqual(outcomes, ['skipped_players']);
    assert.equal(calls.length, 0);
    state.players = 1;
    await clock.advance(24 * 60 * MIN);
    assert.deepEqual(outcomes, ['skipped_players', 'restarted']);
    await s.stop();
  });

  it('a cancel during the countdown stops this run only; a stopped server is not restarted', async () => {
    const { clock, s, calls, outcomes, state } = setup({ schedule: '0 5 * * *' });
    await clock.advance(50 * MIN);
    assert.equal(calls.length, 1);
    assert.equal(s.cancel('vh'), true);
    await clock.advance(0);
    assert.deepEqual(outcomes, ['cancelled']);
    assert.equal(s.cancel('vh'), false, 'nothing left to cancel');
    state.running = false;
    await clock.advance(24 * 60 * MIN);
    assert.deepEqual(outcomes, ['cancelled', 'skipped_not_running']);
    assert.equal(calls.length, 1);
    await s.stop();
  });

  it('a bad schedule is refused naming restart.schedule', () => {
    const s = new RestartScheduler({ target: () => { throw new Error('unused'); } });
    assert.throws(() => s.start([{ serverId: 'vh', schedule: 'every day', warnAt: [], waitForEmptyMinutes: 0 }]), /server vh: restart\.schedule "every day"/);
  });
});
