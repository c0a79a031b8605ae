import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverStates, type ServerState } from '../../../protocol/index.ts';
import { IllegalTransitionError, ServerStateMachine, canTransition, stateTransitions } from '../../../agent/supervisor/state.ts';

test('the table covers exactly the fixed state names', () => {
  assert.deepEqual(Object.keys(stateTransitions).sort(), [...serverStates].sort());
  for (const targets of Object.values(stateTransitions)) {
    for (const t of targets) assert.ok((serverStates as readonly string[]).includes(t));
  }
});

test('the design path is legal: stopped → starting → running ⇄ unresponsive → crashed → starting, and running → stopping → stopped', () => {
  const m = new ServerStateMachine('unknown', 0);
  const path: ServerState[] = ['stopped', 'starting', 'running', 'unresponsive', 'running', 'unresponsive', 'crashed', 'starting', 'running', 'stopping', 'stopped'];
  path.forEach((to, i) => {
    const change = m.transition(to, `step ${i}`, i + 1);
    assert.ok(change, `→ ${to}`);
    assert.equal(change.to, to);
    assert.equal(change.at, i + 1);
  });
  assert.equal(m.state, 'stopped');
  assert.equal(m.since, path.length);
});

test('illegal transitions are rejected and leave the state alone', () => {
  const illegal: Array<[ServerState, ServerState]> = [
    ['stopped', 'crashed'], ['stopped', 'stopping'], ['stopping', 'running'], ['stopping', 'starting'],
    ['crashed', 'unresponsive'], ['crashed', 'stopping'], ['running', 'starting'], ['unknown', 'crashed'],
    ...serverStates.filter((s) => s !== 'unknown').map((s) => [s, 'unknown'] as [ServerState, ServerState]),
  ];
  for (const [from, to] of illegal) {
    assert.equal(canTransition(from, to), false, `${from} → ${to}`);
    const m = new ServerStateMachine(from, 5);
    assert.throws(() => m.transition(to, 'test', 9), (e: unknown) => {
      assert.ok(e instanceof IllegalTransitionError);
      assert.equal(e.code, 'INTERNAL');
      assert.equal(e.from, from);
      assert.equal(e.to, to);
      assert.match(e.message, new RegExp(`${from} → ${to}`));
      return true;
    });
    assert.equal(m.state, from);
    assert.equal(m.since, 5);
  }
});

test('asking for the current state is not a change', () => {
  const m = new ServerStateMachine('running', 1);
  assert.equal(m.transition('running', 'again', 2), null);
  assert.equal(m.since, 1);
});

test('an exit means: expected while stopping; stopped when watched, held or told to stop; else a crash', () => {
  const m = new ServerStateMachine('running', 0);
  m.want('run');
  assert.deepEqual(m.exitMeaning(true), { kind: 'crash' });
  assert.deepEqual(m.exitMeaning(false), { kind: 'stopped', heldBy: [] }, 'a watched server never crashes by our word');

  const releaseBackup = m.hold('backup');
  const releaseUpdate = m.hold('game update');
  assert.deepEqual(m.exitMeaning(true), { kind: 'stopped', heldBy: ['backup', 'game update'] });
  assert.equal(m.mayRecover, false);
  assert.equal(releaseBackup(), true);
  assert.equal(releaseBackup(), false, 'a second release is a no-op');
  assert.deepEqual(m.exitMeaning(true), { kind: 'stopped', heldBy: ['game update'] });
  releaseUpdate();
  assert.equal(m.held, false);
  assert.equal(m.mayRecover, true);

  m.want('stop');
  assert.deepEqual(m.exitMeaning(true), { kind: 'stopped', heldBy: [] });
  assert.equal(m.mayRecover, false);

  m.want('run');
  m.transition('stopping', 'operator', 1);
  assert.deepEqual(m.exitMeaning(true), { kind: 'expected' }, 'the stop sequence owns the exit');
});

test('query failures count only while running or unresponsive: any other state starts afresh', () => {
  const m = new ServerStateMachine('starting', 0);
  m.failures = 2;
  m.transition('running', 'answers', 1);
  assert.equal(m.failures, 2, 'kept into running');
  m.transition('unresponsive', 'silent', 2);
  assert.equal(m.failures, 2, 'kept into unresponsive');
  m.transition('crashed', 'exit', 3);
  assert.equal(m.failures, 0);
  m.failures = 1;
  m.transition('crashed', 'again', 4);
  assert.equal(m.failures, 1, 'no change, no reset');
  m.transition('starting', 'restart', 5);
  assert.equal(m.failures, 0);
});
