import { ReconSyncError } from '../../protocol/index.ts';
import { echo } from '../../lib/echo.ts';
import type { Store } from '../store/index.ts';
import type { Actor, ForgottenAgent, ForgottenServer } from './types.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * Drops what the store holds about one agent's server: ownership, last
 * status, catalog rows. Conditional on that agent, so a claim another agent
 * made meanwhile is kept. Idempotent: the hub runs it again after applying a
 * forget it learned of, to catch what the former owner sent in between.
 */
export function purgeServer(store: Store, serverId: string, agentId: string): number {
  store.owners.release(serverId, agentId);
  store.snapshots.remove(agentId, serverId);
  store.updates.remove(serverId, agentId);
  return store.backups.removeServer(serverId, agentId);
}

/** Drops an agent and everything it reported; its tokens are revoked (the hub closes a live session). Idempotent. */
export function purgeAgent(store: Store, agentId: string, at: string): Omit<ForgottenAgent, 'agentId'> {
  const servers = store.owners.ownedBy(agentId);
  let backups = 0;
  for (const serverId of servers) backups += purgeServer(store, serverId, agentId);
  store.snapshots.removeAgent(agentId);
  const tokensRevoked = store.tokens.revokeAgent(agentId, at);
  store.events.removeAgent(agentId);
  store.agents.remove(agentId);
  return { servers, tokensRevoked, backups };
}

/**
 * `server forget` / DELETE /api/v1/servers/{id}: the id is free again; the
 * next agent whose hello lists it owns it. Audited; UNKNOWN_SERVER when no
 * agent owns the id.
 */
export function forgetServer(store: Store, serverId: string, actor: Actor, at: string): ForgottenServer {
  try {
    return store.transaction(() => {
      const owner = store.owners.ownerOf(serverId);
      if (owner === null) throw new ReconSyncError('UNKNOWN_SERVER', `no agent owns server "${echo(serverId)}"; list servers with GET /api/v1/servers`);
      const backups = purgeServer(store, serverId, owner);
      store.ownershipChanges.append('server', serverId, owner, at);
      store.audit.append({ at, actor, action: 'server.forget', serverId, outcome: 'ok', detail: `owned by agent ${owner}; ${backups} catalog row(s) dropped` });
      return { serverId, formerOwner: owner, backups };
    });
  } catch (err) {
    auditFailure(store, actor, 'server.forget', serverId, at, err);
    throw err;
  }
}

/**
 * `agent forget` / DELETE /api/v1/agents/{id}: removes a stale agent, its
 * tokens and its servers. Audited; UNKNOWN_AGENT when the hub never knew it.
 */
export function forgetAgent(store: Store, agentId: string, actor: Actor, at: string): ForgottenAgent {
  try {
    return store.transaction(() => {
      const known = store.agents.get(agentId) !== null || store.tokens.activeFor(agentId).length > 0 || store.owners.ownedBy(agentId).length > 0;
      if (!known) throw new ReconSyncError('UNKNOWN_AGENT', `no agent "${echo(agentId)}"; list agents with reconsync token list or GET /api/v1/agents`);
      const purged = purgeAgent(store, agentId, at);
      store.ownershipChanges.append('agent', agentId, agentId, at);
      const servers = purged.servers.length ? purged.servers.join(', ') : 'none';
      store.audit.append({ at, actor, action: 'agent.forget', serverId: null, outcome: 'ok', detail: `agent ${agentId}: servers ${servers}; ${purged.tokensRevoked} token(s) revoked; ${purged.backups} catalog row(s) dropped` });
      return { agentId, ...purged };
    });
  } catch (err) {
    auditFailure(store, actor, 'agent.forget', null, at, err, agentId);
    throw err;
  }
}

function auditFailure(store: Store, actor: Actor, action: string, serverId: string | null, at: string, err: unknown, subject?: string): void {
  const msg = err instanceof ReconSyncError ? `${err.code}: ${err.message}` : errorMessage(err);
  try {
    store.audit.append({ at, actor, action, serverId, outcome: 'error', detail: subject ? `agent ${subject}: ${msg}` : msg });
  } catch {
    // The store itself failed: the caller reports the original error.
  }
}
