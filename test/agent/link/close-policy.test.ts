import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideOnEnd, describe, type LinkEnd } from '../../../agent/link/close-policy.ts';

const decide = (end: LinkEnd) => decideOnEnd(end, 'box-1');

test('4000 replaced and 4001 revoked stop the link with an error that says what to do', () => {
  const replaced = decide({ kind: 'close', code: 4000, reason: 'replaced' });
  assert.equal(replaced.action, 'stop');
  assert.equal(replaced.reason, 'replaced');
  assert.equal(replaced.level, 'error');
  assert.match(replaced.message, /same id "box-1"/);
  assert.match(replaced.message, /own id in agent\.yaml/);

  const revoked = decide({ kind: 'close', code: 4001, reason: '' });
  assert.equal(revoked.action, 'stop');
  assert.equal(revoked.reason, 'revoked');
  assert.match(revoked.message, /reconsync token create box-1 --config hub\.yaml/);
});

test('bad hello (4002, 1008) stops; HTTP 426 stops naming the versions', () => {
  for (const code of [4002, 1008]) {
    const d = decide({ kind: 'close', code, reason: 'servers.0.id: bad' });
    assert.equal(d.action, 'stop');
    assert.equal(d.reason, 'bad-hello');
    assert.match(d.message, /servers\.0\.id: bad/);
  }
  const v = decide({ kind: 'http', status: 426, hubProtocol: '2' });
  assert.equal(v.action, 'stop');
  assert.equal(v.reason, 'version-mismatch');
  assert.match(v.message, /agent speaks 1, hub speaks 2/);
  assert.match(v.message, /[Uu]pgrade/);
});

test('HTTP 401 retries slowly and points at the token', () => {
  const d = decide({ kind: 'http', status: 401 });
  assert.equal(d.action, 'slow');
  assert.equal(d.level, 'error');
  assert.match(d.message, /HTTP 401/);
  assert.match(d.message, /token create box-1/);
});

test('everything else reconnects with backoff', () => {
  const ends: LinkEnd[] = [
    { kind: 'close', code: 1006, reason: '' },
    { kind: 'close', code: 1000, reason: 'bye' },
    { kind: 'close', code: 1001, reason: 'hub restarting' },
    { kind: 'close', code: 1009, reason: '' },
    { kind: 'close', code: 1011, reason: '' },
    // The hub's store is failing (issue 10 §3): the agent must come back and re-send, never give up.
    { kind: 'close', code: 1013, reason: 'hub store unavailable; retry later' },
    { kind: 'http', status: 503 },
    { kind: 'http', status: 404 },
    { kind: 'error', message: 'connect ECONNREFUSED 127.0.0.1:1' },
    { kind: 'timeout', phase: 'open', ms: 15_000 },
    { kind: 'timeout', phase: 'welcome', ms: 10_000 },
    { kind: 'dead', silentMs: 45_000 },
  ];
  for (const end of ends) {
    const d = decide(end);
    assert.equal(d.action, 'reconnect', describe(end));
    assert.ok(d.message.length > 0);
  }
  assert.match(decide({ kind: 'http', status: 404 }).message, /ends in \/agent/);
  assert.match(decide({ kind: 'dead', silentMs: 45_000 }).message, /silent for 45000 ms/);
});
