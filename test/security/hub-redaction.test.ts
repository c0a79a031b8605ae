// Issue 10 §7, the hub's side: an agent of another version (or one whose rclone list is older)
// sends backup records with credentials in its destination strings and messages. The hub
// redacts them before they are stored, so neither its store file nor its API holds them.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { API_TOKEN, FakeAgent, backup, newToken, startHub, summary, tempDir } from '../hub/helpers.ts';

const SECRETS = ['KeyPem-Hub-1', 'Pass2-Hub-2', 'Grant-Hub-3', 'Header-Hub-4', 'Sftp-Hub-5'];

test('credentials in records from an agent are redacted before the hub stores or serves them', async () => {
  const t = await tempDir();
  const hub = await startHub(t.dir);
  try {
    const token = newToken(hub, 'old-box');
    const { agent } = await FakeAgent.online(hub, 'old-box', token, [summary('vh')]);
    const targets = [`:sftp,host=h,key_pem=${SECRETS[0]},pass=${SECRETS[4]}:dir`, `:crypt,remote=/v,password2=${SECRETS[1]}:`, `:storj,access_grant=${SECRETS[2]}:b`, `:http,headers="Authorization,Bearer ${SECRETS[3]}":`];
    const rec = backup('b1', 'vh', '2024-01-01T00:00:00.000Z', ['local', ...targets]);
    rec.destinations[1] = { target: targets[0]!, verified: false, error: `Failed to create file system for "${targets[0]}": dial tcp: refused` };
    agent.send({ type: 'evt', seq: 1, topic: 'backup.completed', data: rec });
    agent.send({ type: 'evt', seq: 2, topic: 'alert', data: { serverId: 'vh', kind: 'upload_failed', message: `upload to ${targets[1]} failed`, at: '2024-01-01T00:00:01.000Z' } });
    assert.deepEqual(await agent.next((f) => f.type === 'ack' && f.seq === 2), { type: 'ack', seq: 2 });

    const res = await fetch(`${hub.url}/api/v1/servers/vh/backups`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.match(body, /key_pem=\[redacted\]/, 'the record is there, redacted');
    assert.match(body, /password2=\[redacted\]/);
    const d = t.dir;
    const store = (await Promise.all((await readdir(d)).map((f) => readFile(path.join(d, f)).then((b) => b.toString('latin1'), () => '')))).join('\n');
    for (const s of SECRETS) {
      assert.ok(!body.includes(s), `${s} in the backups answer`);
      assert.ok(!store.includes(s), `${s} in the hub store`);
    }
    agent.close();
  } finally {
    await hub.close();
    await t.cleanup();
  }
});
