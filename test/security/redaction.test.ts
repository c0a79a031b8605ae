// Issue 10 §7: how secrets are recognised. rclone options by rclone's own list (checked against
// the installed rclone, so the checked-in list cannot fall behind it), command lines by known
// values and by secret-looking names, log lines by the config's known values.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RcloneDestination, redactSecrets } from '../../agent/backup/rclone.ts';
import { RCLONE_SENSITIVE_OPTIONS } from '../../lib/rclone-sensitive.ts';
import { createLogger } from '../../lib/logger.ts';
import { redactCommandLine } from '../../lib/redact.ts';
import { sensitiveFromBinary } from '../../tools/rclone-sensitive.ts';

test('every option the installed rclone marks IsPassword or Sensitive is in the checked-in list (regenerate with tools/rclone-sensitive.ts)', () => {
  const { names, version } = sensitiveFromBinary('rclone');
  assert.ok(names.includes('pass') && names.includes('password2'), `rclone ${version} reported its password options`);
  const listed = new Set(RCLONE_SENSITIVE_OPTIONS);
  assert.deepEqual(names.filter((n) => !listed.has(n)), [], `missing from lib/rclone-sensitive.ts (rclone ${version})`);
  for (const n of ['key_pem', 'password2', 'access_grant', 'headers', 'sas_url', 'service_account_credentials']) assert.ok(listed.has(n), n);
});

test('each listed option is redacted in a connection string, quoted or not, and in JSON; redaction is idempotent', () => {
  for (const name of RCLONE_SENSITIVE_OPTIONS) {
    const secret = `S3cr3t-${name}`;
    for (const text of [
      `:backend,${name}=${secret},other=1:bucket/x`,
      `:backend,${name}="${secret},with ""quotes""":bucket`,
      `myremote,${name}='${secret}':path`,
      `Failed to create file system for ":backend,${name}=${secret}:dir": boom`,
      `{"${name}":"${secret}","expiry":"2030"}`,
    ]) {
      const once = redactSecrets(text);
      assert.ok(!once.includes(secret), `${name}: ${once}`);
      assert.match(once, /\[redacted\]/);
      assert.equal(redactSecrets(once), once, `${name}: idempotent`);
    }
  }
  // What is not a credential stays readable.
  assert.equal(redactSecrets(':local,links=true:/srv/vault'), ':local,links=true:/srv/vault');
  assert.equal(redactSecrets('b2:my-bucket/ark'), 'b2:my-bucket/ark');
});

test('command lines: known values anywhere, key=value with a secret name (ARK map URL), the value after a secret flag', () => {
  const line = redactCommandLine('/srv/ark/ShooterGameServer', [
    'TheIsland?listen?SessionName=My Island?ServerAdminPassword=adm1n?ServerPassword=j0in?Port=7777',
    '-server', '-password', 'valheim-pw', '+rcon.password', 'rust-pw', '--rcon-password=sim-pw', '-Port=7777', '-log', 'known-value-in-text:known-X1',
  ], ['known-X1']);
  for (const s of ['adm1n', 'j0in', 'valheim-pw', 'rust-pw', 'sim-pw', 'known-X1']) assert.ok(!line.includes(s), `${s} in ${line}`);
  assert.match(line, /"TheIsland\?listen\?SessionName=My Island\?ServerAdminPassword=\[redacted\]\?ServerPassword=\[redacted\]\?Port=7777"/);
  assert.match(line, / -server -password \[redacted\] \+rcon\.password \[redacted\] --rcon-password=\[redacted\] -Port=7777 -log /);
});

test('the logger scrubs the config\'s secret values from every line, also JSON-escaped', () => {
  let text = '';
  const destination = new Writable({ write: (c: Buffer, _e, cb) => { text += c.toString(); cb(); } });
  const quoted = 'pw"with\\quote';
  const logger = createLogger({ level: 'info', destination, secrets: ['tok-123456', quoted] });
  logger.info({ cmd: `start --token tok-123456 --pw ${quoted}` }, 'message with tok-123456');
  logger.error(new Error(`failed for ${quoted}`), 'boom');
  assert.match(text, /message with \[redacted\]/);
  for (const s of ['tok-123456', JSON.stringify(quoted).slice(1, -1)]) assert.ok(!text.includes(s), `${s} in ${text}`);
});

test('an rclone that cannot even run: the error (which repeats the command line) holds no credential', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reconsync-redact-'));
  try {
    const notExecutable = path.join(dir, 'rclone');
    await writeFile(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
    const dest = new RcloneDestination({ target: ':sftp,host=h,pass=Run-Secret-9z,key_pem=Pem-Secret-8y:dir', serverId: 's', rclone: { binary: notExecutable } });
    for (const call of [() => dest.list(), () => dest.verify('b1', { size: 1, sha256: 'x' }), () => dest.remove('b1')]) {
      await assert.rejects(call(), (err: Error) => {
        assert.match(err.message, /rclone/);
        for (const s of ['Run-Secret-9z', 'Pem-Secret-8y']) assert.ok(!`${err.message} ${String(err.cause ?? '')}`.includes(s), err.message);
        return true;
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
