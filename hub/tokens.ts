import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import { loadYamlConfig, resolveFrom } from '../lib/config-file.ts';
import { id as idSchema } from '../protocol/index.ts';
import { ReconSyncError } from '../protocol/errors.ts';
import { Store } from './store/index.ts';

export const TOKEN_PREFIX = 'rsa_';
const TOKEN_BYTES = 32; // 256 random bits
/** Longest string we hash at all: a huge header must not cost more than a normal one. */
const MAX_PRESENTED_LENGTH = 256;

/** Compared against when no row matches, so a miss costs the same as a hit. */
const DUMMY_HASH = createHash('sha256').update('reconsync-no-such-token').digest();

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export interface CreateTokenOptions {
  /** Revoke the agent's valid token(s) and mint a new one; a session on the old token closes within the hub's poll interval. */
  rotate?: boolean;
  at?: string;
}

/** The agent already has a valid token and --rotate was not given. */
export class TokenExistsError extends ReconSyncError {
  constructor(agentId: string, createdAt: string) {
    super('INVALID_PARAMS', `agent "${agentId}" already has a valid token (created ${createdAt}); one agent has one token. Use "token create ${agentId} --rotate" to replace it (the old one stops working and its session is closed), or "token revoke ${agentId}" first`);
    this.name = 'TokenExistsError';
  }
}

/**
 * Mints a token for the agent and stores only its sha256; the caller shows
 * the token once. One valid token per agent: refused when it has one, unless
 * rotating. Check and insert share one write transaction, so two concurrent
 * creates (CLI processes) cannot both succeed.
 */
export function createToken(store: Store, agentId: string, opts: CreateTokenOptions = {}): string {
  if (!idSchema.safeParse(agentId).success) {
    throw new ReconSyncError('INVALID_PARAMS', `agent id "${agentId}" is not valid: use letters, digits, dot, dash, underscore (max 64)`);
  }
  const at = opts.at ?? new Date().toISOString();
  const token = TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
  store.transaction(() => {
    const active = store.tokens.activeFor(agentId);
    if (active.length > 0) {
      if (!opts.rotate) throw new TokenExistsError(agentId, active[0]!.createdAt);
      store.tokens.revokeAgent(agentId, at);
    }
    store.agents.ensure(agentId, at);
    store.tokens.insert(agentId, hashToken(token), at);
  });
  return token;
}

/** One line of `token list`: never the token or its hash. */
export interface TokenListing {
  agentId: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export function listTokens(store: Store): TokenListing[] {
  return store.tokens.listActive().map((t) => ({ agentId: t.agentId, createdAt: t.createdAt, lastUsedAt: t.lastUsedAt }));
}

/** Revokes every active token of the agent. A running hub notices within its poll interval and closes the session (4001). */
export function revokeToken(store: Store, agentId: string, at: string = new Date().toISOString()): number {
  return store.tokens.revokeAgent(agentId, at);
}

export interface VerifiedToken {
  agentId: string;
  tokenId: number;
}

/**
 * Checks a presented token. Missing, malformed and wrong tokens take the same
 * path: hash, one indexed lookup, one constant-time compare.
 */
export function verifyTokenDetailed(store: Store, presented: string | undefined | null): VerifiedToken | null {
  const candidate = typeof presented === 'string' && presented.length <= MAX_PRESENTED_LENGTH ? presented : '';
  const hash = hashToken(candidate);
  const row = store.tokens.findActiveByHash(hash);
  const equal = timingSafeEqual(hash, row ? row.hash : DUMMY_HASH);
  return equal && row && candidate !== '' ? { agentId: row.agentId, tokenId: row.id } : null;
}

export function verifyToken(store: Store, presented: string | undefined | null): string | null {
  return verifyTokenDetailed(store, presented)?.agentId ?? null;
}

/** Constant-time equality of two secrets of any length (hashes both first). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(hashToken(a), hashToken(b));
}

export function cliActor(): { kind: 'cli'; id: string } {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (containers): keep 'unknown'
  }
  return { kind: 'cli', id: user };
}

// Only dataDir matters to the token commands, so a hub.yaml whose other
// secrets (api token, Discord) are unset in this shell still works.
const TokenConfigSchema = z.looseObject({ dataDir: z.string().default('./hub-data') });

export function dataDirFromConfig(configPath: string, env: NodeJS.ProcessEnv = process.env): string {
  const cfg = loadYamlConfig(configPath, TokenConfigSchema, { env, onlyKeys: ['dataDir'] });
  return resolveFrom(cfg.configDir, cfg.dataDir);
}

export function withStore<T>(dataDir: string, fn: (store: Store) => T): T {
  const store = Store.open(dataDir);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** `reconsync token create [--rotate]` with a loaded config (only dataDir is used): returns the token to print once. Refusals are audited too. */
export function createTokenForConfig(config: { dataDir: string }, agentId: string, opts: { rotate?: boolean } = {}): string {
  return withStore(config.dataDir, (store) => {
    const action = opts.rotate ? 'token.rotate' : 'token.create';
    const at = new Date().toISOString();
    try {
      const token = createToken(store, agentId, { rotate: opts.rotate === true, at });
      store.audit.append({ at, actor: cliActor(), action, serverId: null, outcome: 'ok', detail: `agent ${agentId}` });
      return token;
    } catch (err) {
      if (err instanceof TokenExistsError) store.audit.append({ at, actor: cliActor(), action, serverId: null, outcome: 'denied', detail: `agent ${agentId}: already has a valid token` });
      throw err;
    }
  });
}

/** `reconsync token list`: agent id, created, last used. */
export function listTokensForConfig(config: { dataDir: string }): TokenListing[] {
  return withStore(config.dataDir, listTokens);
}

/** `reconsync token revoke` with a loaded config: returns how many tokens were revoked (0 = none active). */
export function revokeTokenForConfig(config: { dataDir: string }, agentId: string): number {
  return withStore(config.dataDir, (store) => {
    const n = revokeToken(store, agentId);
    store.audit.append({ at: new Date().toISOString(), actor: cliActor(), action: 'token.revoke', serverId: null, outcome: 'ok', detail: `agent ${agentId}: ${n} token(s) revoked` });
    return n;
  });
}

/** Like createTokenForConfig, from a hub.yaml path; needs only dataDir, so unset secrets elsewhere in the file do not matter. */
export function createAgentToken(configPath: string, agentId: string, env?: NodeJS.ProcessEnv, opts: { rotate?: boolean } = {}): string {
  return createTokenForConfig({ dataDir: dataDirFromConfig(configPath, env) }, agentId, opts);
}

/** Like revokeTokenForConfig, from a hub.yaml path. */
export function revokeAgentToken(configPath: string, agentId: string, env?: NodeJS.ProcessEnv): number {
  return revokeTokenForConfig({ dataDir: dataDirFromConfig(configPath, env) }, agentId);
}
