/**
 * createStatusProbe: asks a game how it is doing, the way its profile says
 * (query.kind). Every probe answers within its timeout or rejects with a
 * ReconSyncError: TIMEOUT when the game did not answer, ADMIN_CHANNEL when a
 * status that comes over the admin channel failed for another reason (e.g. a
 * wrong password), CANCELLED when the caller's signal aborted.
 */
import { ReconSyncError } from '../../protocol/errors.ts';
import type { AdminChannel, QueryResult, ResolvedServer, StatusProbe } from '../types.ts';
import { createAdminChannel } from './admin/index.ts';
import { AdminChannelError, cancelled, withDeadline } from './admin/common.ts';
import { PalworldRestClient } from './admin/palworld-rest.ts';
import { SatisfactoryApiClient } from './admin/satisfactory-api.ts';
import { queryA2s } from './query/a2s.ts';
import { queryOverRcon, queryPalworld, querySatisfactory } from './query/admin-status.ts';
import { cleanQueryResult } from './query/clean.ts';
import { pingMinecraft } from './query/minecraft-ping.ts';
import { errorMessage } from '../../lib/error-message.ts';

export interface StatusProbeOptions {
  /** Whole-query budget; defaults to the server's health.queryTimeoutMs. */
  timeoutMs?: number;
  /**
   * The server's admin channel, for games whose status comes over it (ASA).
   * Pass the supervisor's own so ARK sees one request at a time; without it the
   * probe opens its own.
   */
  admin?: AdminChannel | null;
}

/** A probe that can also release what it holds (an RCON connection it opened itself). */
export interface ClosableStatusProbe extends StatusProbe {
  close(): Promise<void>;
}

function describeTarget(server: ResolvedServer): string {
  return `${server.query.kind} query on ${server.query.host}:${server.query.port}`;
}

/** Normalises whatever a probe threw into the error codes promised above. */
function probeError(err: unknown, server: ResolvedServer, timeoutMs: number, signal: AbortSignal | undefined): ReconSyncError {
  if (signal?.aborted) return cancelled(signal);
  const noAnswer = () => new ReconSyncError('TIMEOUT', `server "${server.id}": no answer to the ${describeTarget(server)} within ${timeoutMs} ms`, { cause: err });
  if (err instanceof AdminChannelError) {
    // Not answering is "down"; a wrong password or a bad config is something the operator must fix.
    return err.reason === 'timeout' || err.reason === 'connect' || err.reason === 'closed' ? noAnswer() : err;
  }
  if (err instanceof ReconSyncError) return err.code === 'TIMEOUT' ? noAnswer() : err;
  if (err instanceof Error && /timed out|timeout|failed all|ECONNREFUSED|ECONNRESET|closed/i.test(err.message)) return noAnswer();
  return new ReconSyncError('TIMEOUT', `server "${server.id}": the ${describeTarget(server)} failed: ${errorMessage(err)}`, { cause: err });
}

type Query = (signal: AbortSignal) => Promise<QueryResult>;

export function createStatusProbe(server: ResolvedServer, opts: StatusProbeOptions = {}): ClosableStatusProbe {
  const timeoutMs = opts.timeoutMs ?? server.config.health.queryTimeoutMs;
  const clientTimeouts = { connectTimeoutMs: timeoutMs, authTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs };
  let ownChannel: AdminChannel | null = null;
  let query: Query;
  const { host, port } = server.query;

  switch (server.query.kind) {
    case 'a2s':
      query = (signal) => queryA2s(server, timeoutMs, signal);
      break;
    case 'gamedig':
      // gamedig (~30 MiB once loaded) is imported on the first query, so agents without such a server never pay for it.
      query = async () => (await import('./query/gamedig-probe.ts')).queryGamedig(server, timeoutMs);
      break;
    case 'minecraft':
      query = async (signal) => {
        const s = await pingMinecraft(host, port, signal);
        return { players: { online: s.online, max: s.max, names: s.names }, map: null, version: s.version };
      };
      break;
    case 'palworld-rest': {
      const client = new PalworldRestClient({ ...clientTimeouts, host, port, password: server.admin.password });
      query = (signal) => queryPalworld(client, signal);
      break;
    }
    case 'satisfactory': {
      const client = new SatisfactoryApiClient({ ...clientTimeouts, host, port, password: server.admin.password, insecureTls: server.admin.insecureTls });
      query = (signal) => querySatisfactory(client, signal);
      break;
    }
    case 'rcon': {
      const channel = opts.admin ?? (ownChannel = createAdminChannel(server, { timeouts: clientTimeouts }));
      if (!channel) {
        query = () => Promise.reject(new ReconSyncError('NOT_SUPPORTED', `server "${server.id}": query.kind rcon needs an admin channel with a port`));
      } else {
        query = (signal) => queryOverRcon(server, channel, signal);
      }
      break;
    }
    case 'none':
      query = () => Promise.reject(new ReconSyncError('NOT_SUPPORTED', `server "${server.id}": the game has no status query; state follows the process only`));
      break;
  }

  return {
    async query(signal?: AbortSignal): Promise<QueryResult> {
      try {
        // Every probe's answer passes here: whatever a game sends is cut to the status limits once, at the door.
        return cleanQueryResult(await withDeadline(query, {
          timeoutMs,
          signal,
          onTimeout: () => new ReconSyncError('TIMEOUT', `server "${server.id}": no answer to the ${describeTarget(server)} within ${timeoutMs} ms`),
        }));
      } catch (err) {
        if (err instanceof ReconSyncError && err.code === 'NOT_SUPPORTED') throw err;
        throw probeError(err, server, timeoutMs, signal);
      }
    },
    async close(): Promise<void> {
      await ownChannel?.close();
    },
  };
}
