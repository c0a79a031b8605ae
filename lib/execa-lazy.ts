/**
 * execa, loaded when the agent first runs a program (rclone, restic, SteamCMD,
 * taskkill) instead of at start: with the node internals it pulls in (streams,
 * child_process, tty, signal tables) it is ~4 MiB of RSS that an agent which only
 * watches its games never needs (bench/README.md, agent_idle_rss_mib). The agent
 * bundle's build fails if an agent module imports execa statically (tools/bundle.ts).
 */
import type { execa as Execa } from 'execa';

let loading: Promise<typeof Execa> | undefined;

export function loadExeca(): Promise<typeof Execa> {
  // A failed import is not cached: the next call tries again and reports its own error.
  loading ??= import('execa').then((m) => m.execa, (err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}
