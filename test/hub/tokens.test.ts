import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Store } from '../../hub/store/index.ts';
import { TokenExistsError, createAgentToken, createToken, hashToken, listTokens, revokeAgentToken, revokeToken, verifyToken, verifyTokenDetailed } from '../../hub/tokens.ts';
import { tempDir } from './helpers.ts';

describe('agent tokens', () => {
  it('mint 256-bit rsa_ tokens, store only their sha256, verify and revoke', async () => {
    const t = await tempDir();
    const store = Store.open(t.dir);
    try {
      const token = createToken(store, 'box-1');
      assert.match(token, /^rsa_[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(token.slice(4), 'base64url').length, 32);
      assert.equal(verifyToken(store, token), 'box-1');
      assert.equal(verifyToken(store, `${token}x`), null);
      assert.equal(verifyToken(store, ''), null);
      assert.equal(verifyToken(store, undefined), null);
      assert.equal(verifyToken(store, 'x'.repeat(100_000)), null);
      assert.ok(verifyTokenDetailed(store, token)!.tokenId > 0);

      // Only the hash is on disk (main file and WAL alike).
      store.db.pragma('wal_checkpoint(PASSIVE)');
      for (const f of await readdir(t.dir)) {
        const bytes = await readFile(path.join(t.dir, f));
        assert.equal(bytes.includes(token), false, `${f} holds the raw token`);
        assert.equal(bytes.includes(token.slice(4)), false, `${f} holds the token body`);
      }
      assert.ok(store.db.prepare('SELECT 1 FROM tokens WHERE hash = ?').get(hashToken(token)));

      assert.equal(revokeToken(store, 'box-1'), 1);
      assert.equal(verifyToken(store, token), null);
      assert.equal(revokeToken(store, 'box-1'), 0);
      assert.equal(store.tokens.maxRevokeSeq(), 1, 'one revocation, one seq');
      assert.throws(() => createToken(store, '../evil'), { code: 'INVALID_PARAMS' });
    } finally {
      store.close();
      await t.cleanup();
    }
  });

  it('one valid token per agent: a second create is refused (audited), --rotate revokes the old one', async () => {
    const t = await tempDir();
    const store = Store.open(t.dir);
    try {
      const first = createToken(store, 'box-1', { at: '2024-01-01T00:00:00.000Z' });
      assert.throws(() => createToken(store, 'box-1'), (err: Error) => err instanceof TokenExistsError && /already has a valid token \(created 2024-01-01T00:00:00.000Z\).*--rotate/.test(err.message));
      assert.equal(verifyToken(store, first), 'box-1');
      assert.equal(store.tokens.activeFor('box-1').length, 1);
      const revokeSeq = store.tokens.maxRevokeSeq();
      const second = createToken(store, 'box-1', { rotate: true });
      assert.equal(verifyToken(store, first), null);
      assert.equal(verifyToken(store, second), 'box-1');
      assert.equal(store.tokens.maxRevokeSeq(), revokeSeq + 1, 'the hub sees the rotation as a revocation and closes the old session');
      // Rotating an agent with no token is a plain create; other agents are unaffected.
      const other = createToken(store, 'box-2', { rotate: true });
      assert.deepEqual(listTokens(store).map((r) => [r.agentId, r.lastUsedAt]), [['box-1', null], ['box-2', null]]);
      assert.equal(JSON.stringify(listTokens(store)).includes(other), false);
    } finally {
      store.close();
      await t.cleanup();
    }
  });

  it('CLI helpers work from hub.yaml even when the other secrets are not in the environment', async () => {
    const t = await tempDir();
    try {
      const cfg = path.join(t.dir, 'hub.yaml');
      await writeFile(cfg, 'dataDir: ./hub-data\napi:\n  token: ${RECONSYNC_API_TOKEN}\n');
      const token = createAgentToken(cfg, 'box-1', {});
      const store = Store.open(path.join(t.dir, 'hub-data'));
      try {
        assert.equal(verifyToken(store, token), 'box-1');
        assert.deepEqual(store.audit.recent(1).map((e) => [e.action, e.actor.kind]), [['token.create', 'cli']]);
      } finally {
        store.close();
      }
      assert.equal(revokeAgentToken(cfg, 'box-1', {}), 1);
      assert.equal(revokeAgentToken(cfg, 'box-1', {}), 0);
    } finally {
      await t.cleanup();
    }
  });
});
