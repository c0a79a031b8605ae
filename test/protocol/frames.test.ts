import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeFrame, parseFrame, PROTOCOL_MAJOR, type Frame, type ServerStatus } from '../../protocol/index.ts';

const status: ServerStatus = {
  id: 'valheim-main', game: 'valheim', name: 'Valheim', managed: false, state: 'running',
  players: { online: 1, max: 10, names: ['a'] }, map: 'Dedicated', version: '0.218', lastBackup: null,
  resources: { cpuPercent: null, rssBytes: null, diskFreeBytes: null, uptimeSec: null }, updatedAt: new Date(0).toISOString(),
};

test('every frame type round-trips through encode and parse', () => {
  const frames: Frame[] = [
    { type: 'hello', agentId: 'box-1', agentVersion: '0.1.0', protocol: PROTOCOL_MAJOR, servers: [{ id: 's1', game: 'ark', name: 'Ark', managed: true }], capabilities: ['backup'] },
    { type: 'welcome', sessionId: 'x', heartbeatMs: 15000, hubVersion: '0.1.0', ackedSeq: 3 },
    { type: 'req', id: 'r1', method: 'server.start', params: { serverId: 's1' }, timeoutMs: 1000 },
    { type: 'res', id: 'r1', ok: true, result: { state: 'running' } },
    { type: 'res', id: 'r1', ok: false, error: { code: 'BUSY', message: 'busy', retryable: true } },
    { type: 'evt', topic: 'status', seq: undefined, data: status },
    { type: 'evt', topic: 'alert', seq: 7, data: { serverId: 's1', kind: 'crashed', message: 'exit 1', at: new Date(0).toISOString() } },
    { type: 'ack', seq: 7 },
    { type: 'cancel', id: 'r1' },
  ];
  for (const frame of frames) {
    const parsed = parseFrame(encodeFrame(frame));
    assert.ok(parsed.ok, `${frame.type}: ${parsed.ok ? '' : parsed.error}`);
    assert.deepEqual(JSON.parse(JSON.stringify(parsed.frame)), JSON.parse(encodeFrame(frame)));
  }
});

test('malformed frames become errors that say what is wrong, never exceptions', () => {
  const cases: Array<[string, RegExp]> = [
    ['not json', /not valid JSON/],
    ['[]', /JSON object/],
    ['null', /JSON object/],
    ['{"type":"nope"}', /unknown frame type/],
    ['{"type":"__proto__"}', /unknown frame type/],
    ['{"type":"req","id":"1","method":"x","params":{}}', /invalid req frame at timeoutMs/],
    ['{"type":"ack","seq":-1}', /invalid ack frame at seq/],
    ['{"type":"evt","topic":"alert","data":{"serverId":"s","kind":"crashed","message":"m","at":"t"}}', /invalid evt frame/],
    ['{"type":"evt","topic":"status","seq":4,"data":{}}', /invalid evt frame/],
  ];
  for (const [raw, expected] of cases) {
    const parsed = parseFrame(raw);
    assert.equal(parsed.ok, false, raw);
    if (!parsed.ok) assert.match(parsed.error, expected, raw);
  }
});

test('a record event needs a seq and a state event must not carry one', () => {
  const alert = { type: 'evt', topic: 'alert', data: { serverId: 's', kind: 'gave_up', message: 'm', at: 't' } };
  assert.equal(parseFrame(JSON.stringify({ ...alert, seq: 1 })).ok, true);
  assert.equal(parseFrame(JSON.stringify(alert)).ok, false);
});
