import { randomBytes } from 'node:crypto';
import { ReconSyncError, id as idSchema } from '../protocol/index.ts';
import type { Store } from './store/index.ts';
import { apiScopes, type ApiKeyRow, type ApiScope } from './store/api-keys.ts';
import { cliActor, dataDirFromConfig, hashToken, withStore } from './tokens.ts';

export const API_KEY_PREFIX = 'rsk_';
const KEY_BYTES = 32;
/** Longest string hashed at all (as for agent tokens). */
const MAX_PRESENTED_LENGTH = 256;

const rank: Record<ApiScope, number> = { read: 0, operate: 1, admin: 2 };

/** admin ⊃ operate ⊃ read, as the Discord roles. */
export function scopeAllows(have: ApiScope, need: ApiScope): boolean {
  return rank[have] >= rank[need];
}

/**
 * The scope an API request needs: reading is `read`; actions (start, stop,
 * restart, backup, lock, update) are `operate`; restore, forgetting
 * servers or agents and the console tail are `admin`.
 */
export function requiredScope(method: string | undefined, pathname: string): ApiScope {
  // The console tail shows what the game prints (IPs, chat, settings): admin, as /console in Discord.
  if (/^\/api\/v1\/servers\/[^/]+\/log$/.test(pathname)) return 'admin';
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (method === 'DELETE' || /\/restore$/.test(pathname)) return 'admin';
  return 'operate';
}

export function parseScope(raw: string | undefined): ApiScope {
  if (raw === undefined || !(apiScopes as readonly string[]).includes(raw)) {
    throw new ReconSyncError('INVALID_PARAMS', `--scope must be one of ${apiScopes.join(', ')} (read: look; operate: start, stop, restart, back up; admin: also restore and forget)`);
  }
  return raw as ApiScope;
}

/** Mints a key (returned once) and stores its hash; audited. A name is used once, also after revoking. */
export function createApiKey(store: Store, name: string, scope: ApiScope, at = new Date().toISOString()): string {
  if (!idSchema.safeParse(name).success) throw new ReconSyncError('INVALID_PARAMS', `API key name "${name}" is not valid: use letters, digits, dot, dash, underscore (max 64)`);
  const key = API_KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64url');
  store.transaction(() => {
    const existing = store.apiKeys.get(name);
    if (existing) {
      throw new ReconSyncError('INVALID_PARAMS', `an API key named "${name}" ${existing.revokedAt ? `existed (revoked ${existing.revokedAt})` : 'exists'}; names stay unique so the audit log is unambiguous: pick another`);
    }
    store.apiKeys.insert(name, hashToken(key), scope, at);
    store.audit.append({ at, actor: cliActor(), action: 'apikey.create', serverId: null, outcome: 'ok', detail: `${name} (${scope})` });
  });
  return key;
}

/** Returns false when no valid key had that name. Audited either way. */
export function revokeApiKey(store: Store, name: string, at = new Date().toISOString()): boolean {
  return store.transaction(() => {
    const revoked = store.apiKeys.revoke(name, at);
    store.audit.append({ at, actor: cliActor(), action: 'apikey.revoke', serverId: null, outcome: revoked ? 'ok' : 'error', detail: revoked ? name : `${name}: no valid key of that name` });
    return revoked;
  });
}

/** The valid key presented, or null. Checked on every request: a revoke from the CLI takes effect at once. */
export function verifyApiKey(store: Store, presented: string): ApiKeyRow | null {
  if (!presented.startsWith(API_KEY_PREFIX) || presented.length > MAX_PRESENTED_LENGTH) return null;
  return store.apiKeys.byHash(hashToken(presented)) ?? null;
}

export function createApiKeyForConfig(configPath: string, name: string, scope: ApiScope): string {
  return withStore(dataDirFromConfig(configPath), (store) => createApiKey(store, name, scope));
}

export function revokeApiKeyForConfig(configPath: string, name: string): boolean {
  return withStore(dataDirFromConfig(configPath), (store) => revokeApiKey(store, name));
}

export function listApiKeysForConfig(configPath: string): ApiKeyRow[] {
  return withStore(dataDirFromConfig(configPath), (store) => store.apiKeys.list());
}
