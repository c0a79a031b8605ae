import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeHealth, type HealthInput } from '../../../agent/supervisor/health.ts';
import { StatusGate } from '../../../agent/supervisor/status-gate.ts';
import type { ServerStatus } from '../../../protocol/index.ts';

const fail = { ok: false as const, error: 'timeout' };
const ok = { ok: true as const, result: { players: { online: 1, max: 8, names: [] }, map: null, version: null } };
const base: HealthInput = { state: 'running', managed: true, outcome: fail, hasProcess: true, inGrace: false, failures: 0, failureLimit: 3 };

test('failures count up to the limit, then unresponsive with a hang restart request', () => {
  assert.deepEqual(judgeHealth({ ...base, failures: 0 }), { failures: 1 });
  assert.deepEqual(judgeHealth({ ...base, failures: 1 }), { failures: 2 });
  const v = judgeHealth({ ...base, failures: 2 });
  assert.equal(v.to, 'unresponsive');
  assert.equal(v.alert, 'unresponsive');
  assert.equal(v.hang, true);
  assert.match(v.reason ?? '', /3 times in a row: timeout/);
  assert.deepEqual(judgeHealth({ ...base, state: 'unresponsive', failures: 5 }), { failures: 6 }, 'no second alert');
});

test('failures are not counted during the start grace', () => {
  assert.deepEqual(judgeHealth({ ...base, state: 'starting', inGrace: true, failures: 2 }), { failures: 2 });
  assert.equal(judgeHealth({ ...base, state: 'starting', inGrace: false, failures: 2 }).to, 'unresponsive');
});

test('an answer means running; recovered only when coming back from unresponsive', () => {
  assert.deepEqual(judgeHealth({ ...base, outcome: ok, failures: 2 }), { failures: 0 });
  assert.deepEqual(judgeHealth({ ...base, state: 'starting', outcome: ok }), { failures: 0, to: 'running', reason: 'answers its status query' });
  assert.equal(judgeHealth({ ...base, state: 'unresponsive', outcome: ok }).alert, 'recovered');
  assert.equal(judgeHealth({ ...base, state: 'unknown', outcome: { ok: true, result: null } }).reason, 'process is alive');
});

test('managed servers are not judged while stopped, stopping or crashed', () => {
  for (const state of ['stopped', 'stopping', 'crashed'] as const) {
    assert.deepEqual(judgeHealth({ ...base, state, outcome: ok, failures: 1 }), { failures: 1 });
  }
});

test('watch-only: no process and no answer → stopped; an answer from stopped → running', () => {
  const w = { ...base, managed: false, hasProcess: false };
  assert.equal(judgeHealth({ ...w, state: 'running', failures: 2 }).to, 'stopped');
  assert.equal(judgeHealth({ ...w, state: 'running', failures: 2 }).alert, undefined);
  assert.deepEqual(judgeHealth({ ...w, state: 'stopped', failures: 9 }), { failures: 10 });
  assert.equal(judgeHealth({ ...w, state: 'stopped', outcome: ok }).to, 'running');
});

test('StatusGate passes changes at once and repeats only at the heartbeat; resources alone do not count', () => {
  const gate = new StatusGate(30_000);
  const s = (over: Partial<ServerStatus> = {}): ServerStatus => ({
    id: 'a', game: 'valheim', name: 'A', managed: true, state: 'running', players: { online: 1, max: 10, names: [] },
    map: null, version: null, lastBackup: null, updatedAt: 'x',
    resources: { cpuPercent: 1, rssBytes: 1, diskFreeBytes: 1, uptimeSec: 1 }, ...over,
  });
  assert.equal(gate.pass(s(), 0), true);
  assert.equal(gate.pass(s({ resources: { cpuPercent: 99, rssBytes: 2, diskFreeBytes: 3, uptimeSec: 4 } }), 1000), false);
  assert.equal(gate.pass(s({ players: { online: 2, max: 10, names: [] } }), 2000), true);
  assert.equal(gate.pass(s({ players: { online: 2, max: 10, names: [] } }), 31_999), false);
  assert.equal(gate.pass(s({ players: { online: 2, max: 10, names: [] } }), 32_000), true);
  assert.equal(gate.pass(s({ players: { online: 2, max: 10, names: [] }, state: 'unresponsive' }), 32_001), true);
});
