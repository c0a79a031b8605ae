import type { z } from 'zod';
import { ReconSyncError, type AgentMethod, type AgentMethods } from '../../protocol/index.ts';
import type { CallOptions } from '../../protocol/rpc-peer.ts';
import type { SessionRegistry } from '../link/registry.ts';
import type { HubMetrics } from '../metrics.ts';

export type RpcTarget = { agentId: string } | { serverId: string };

export interface RpcRouterOptions {
  registry: SessionRegistry;
  /** serverId → agentId, or null when no agent ever reported the server. */
  resolveServer: (serverId: string) => string | null;
  metrics: HubMetrics;
}

/**
 * Routes a call to the agent that owns the target. Fails at once with
 * UNKNOWN_SERVER or AGENT_OFFLINE; TIMEOUT, DISCONNECTED and CANCELLED come
 * from the session's RpcPeer (per-call timer, link loss, AbortSignal).
 */
export class RpcRouter {
  readonly #opts: RpcRouterOptions;

  constructor(opts: RpcRouterOptions) {
    this.#opts = opts;
  }

  agentFor(target: RpcTarget): string {
    if ('agentId' in target) return target.agentId;
    const agentId = this.#opts.resolveServer(target.serverId);
    if (!agentId) throw new ReconSyncError('UNKNOWN_SERVER', `no server "${target.serverId}"; list servers with /status or GET /api/v1/servers`);
    return agentId;
  }

  /** Not `async`: the session's promise is handed back as it is, with no extra wrapper and ticks per call. */
  call<M extends AgentMethod>(
    target: RpcTarget,
    method: M,
    params: z.input<AgentMethods[M]['params']>,
    opts?: CallOptions,
  ): Promise<z.output<AgentMethods[M]['result']>> {
    let agentId: string;
    try {
      agentId = this.agentFor(target);
    } catch (err) {
      this.#count(method, 'UNKNOWN_SERVER');
      return Promise.reject(err);
    }
    const session = this.#opts.registry.get(agentId);
    if (!session || !session.open) {
      this.#count(method, 'AGENT_OFFLINE');
      return Promise.reject(new ReconSyncError('AGENT_OFFLINE', `agent "${agentId}" is not connected; check that its service is running and can reach the hub`));
    }
    // Outcome and latency of calls that reach the wire are counted by the session's RpcPeer.
    try {
      return session.rpc.call(method, params, opts);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #count(method: string, outcome: string): void {
    this.#opts.metrics.rpcTotal.labels(method, outcome).inc();
  }
}
