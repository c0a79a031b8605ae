import type { Logger } from '../../lib/logger.ts';
import type { ServerState } from '../../protocol/index.ts';
import type { AdminChannel, ResolvedServer, ServerControl } from '../types.ts';
import { errorMessage } from '../../lib/error-message.ts';

/**
 * Gets the save files into a state worth copying, and undoes that afterwards:
 * - with an admin channel: the profile's pre-backup commands (Minecraft
 *   `save-off`, `save-all flush`), then its save command; after the copy the
 *   post-backup commands (`save-on`), whatever happened;
 * - without one, when `backup.stopIfNoSaveChannel` is set and the agent
 *   manages the server: stop it gracefully (holding the supervisor), have the
 *   supervisor start it afterwards (not when an operator stopped it meanwhile);
 *   where only a hard kill could stop it, it is not stopped;
 * - otherwise the game's own last save is copied live.
 */

const LIVE: ReadonlySet<ServerState> = new Set(['running', 'unresponsive', 'starting']);

export interface Quiesced {
  /** What was done, for the log and the manifest. */
  method: 'admin-save' | 'stopped' | 'live' | 'offline';
  warnings: string[];
  /** Undoes the quiesce; resolves to a note for the backup's warnings (the game was left stopped), or null. */
  resume(): Promise<string | null>;
}

const nothingToUndo = async (): Promise<null> => null;

export async function quiesce(server: ResolvedServer, control: ServerControl | null, admin: AdminChannel | null, opts: { logger: Logger; signal?: AbortSignal }): Promise<Quiesced> {
  const warnings: string[] = [];
  const running = control ? LIVE.has(control.state) : true;
  const profileAdmin = server.profile.admin;
  if (!running) return { method: 'offline', warnings, resume: nothingToUndo };

  if (admin && admin.kind !== 'none') {
    let ran = false;
    try {
      for (const cmd of profileAdmin.preBackupCommands) {
        ran = true;
        await admin.exec(cmd, opts.signal);
      }
      if (profileAdmin.saveCommand || profileAdmin.preBackupCommands.length === 0) await admin.save(opts.signal);
    } catch (err) {
      // The files on disk are still the game's last save: a backup of those beats none.
      opts.signal?.throwIfAborted();
      const msg = `the save command over ${admin.kind} failed (${errorMessage(err)}); archived the game's last save instead`;
      warnings.push(msg);
      opts.logger.warn({ err }, msg);
    }
    return {
      method: 'admin-save',
      warnings,
      resume: async () => {
        if (!ran) return null; // post commands undo pre commands; nothing to undo
        for (const cmd of profileAdmin.postBackupCommands) {
          try {
            await admin.exec(cmd);
          } catch (err) {
            opts.logger.error({ err, command: cmd }, 'post-backup command failed; the game may still have saving turned off');
          }
        }
        return null;
      },
    };
  }

  if (server.config.backup.stopIfNoSaveChannel && control?.managed && control.canStopGracefully === false) {
    // A hard kill loses everything since the game's last autosave; its last save on disk is worth more.
    const msg = 'not stopped for the backup: this game can only be hard-stopped here (Windows: run the agent as the service, whose Ctrl+C stops it gracefully); archived its last save instead';
    warnings.push(msg);
    opts.logger.warn(msg);
    return { method: 'live', warnings, resume: nothingToUndo };
  }
  if (server.config.backup.stopIfNoSaveChannel && control?.managed) {
    const release = control.hold('backup');
    try {
      await control.stop({ reason: 'backup (no save channel)' });
    } catch (err) {
      release();
      throw err;
    }
    return {
      method: 'stopped',
      warnings,
      resume: async () => {
        try {
          // Still held: an operator start meanwhile was refused (BUSY), an operator stop is respected here.
          const r = await control.resumeAfterJob('backup');
          return r.started ? null : r.message;
        } catch (err) {
          opts.logger.error({ err }, 'starting the server after the backup failed');
          return `the server was not started again after the backup: ${errorMessage(err)}`;
        } finally {
          release();
        }
      },
    };
  }
  return { method: 'live', warnings, resume: nothingToUndo };
}
