import type { ResolvedServer } from '../types.ts';
import { RESTIC_PREFIX } from '../config.ts';
import type { BackupContext } from './context.ts';
import { redactSecrets } from './rclone.ts';
import { ResticDestination } from './restic.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * The scheduled integrity check of restic repositories (issue 12):
 * `restic check --read-data-subset=<n%>` per repository, once per run even
 * when several servers share it, each inside its server's job slot so a prune
 * of a running backup never collides with it. Any error alerts
 * `backup_failed` with restic's own words; a server busy with a job is
 * checked at the next run.
 */

export interface RepoCheckOutcome {
  serverId: string;
  target: string;
  ok: boolean;
  message?: string;
}

/** `claim` takes the server's job slot (the engine's), throwing BUSY when a job holds it; answers the release. */
export async function checkRepositories(ctx: BackupContext, claim: (serverId: string, kind: string) => () => void, servers: ResolvedServer[], subset: string, signal?: AbortSignal): Promise<RepoCheckOutcome[]> {
  const done = new Set<string>();
  const out: RepoCheckOutcome[] = [];
  for (const server of servers) {
    const targets = ctx.destinations(server, false).filter((d) => d.target.startsWith(RESTIC_PREFIX) && !done.has(d.target));
    if (targets.length === 0) continue;
    let release: () => void;
    try {
      release = claim(server.id, 'repository check');
    } catch (err) {
      ctx.logger.warn({ err, serverId: server.id }, 'repository check skipped: the server is busy; it runs at the next scheduled check');
      continue;
    }
    try {
      for (const dest of targets) {
        if (!(dest instanceof ResticDestination)) continue;
        done.add(dest.target);
        const target = redactSecrets(dest.target);
        try {
          await dest.check(subset, signal);
          ctx.logger.info({ serverId: server.id, target, subset }, 'restic repository check passed');
          out.push({ serverId: server.id, target, ok: true });
        } catch (err) {
          if (signal?.aborted) throw err;
          const message = `integrity check (restic check --read-data-subset=${subset}) of ${target} found a problem: ${errorMessage(err)}`;
          await ctx.alert(server.id, 'backup_failed', message);
          out.push({ serverId: server.id, target, ok: false, message });
        }
      }
    } finally {
      release();
    }
  }
  return out;
}
