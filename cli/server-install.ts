import { mkdir } from 'node:fs/promises';
import { loadAgentConfig, agentSecrets } from '../agent/config.ts';
import { hostOs, resolveAgentServers } from '../agent/resolve-servers.ts';
import { createLogger } from '../lib/logger.ts';
import { installBuild } from '../agent/update/install.ts';
import { createSteamCmd, steamTarget } from '../agent/update/target.ts';
import { ProgressBar } from './progress-bar.ts';

/**
 * `reconsync server install <serverId> --config agent.yaml`: SteamCMD installs
 * (or brings up to date) the server's game in its installDir. Exit 0 only when
 * the app manifest shows the build Steam named as the branch's latest.
 */
export async function runServerInstall(serverId: string, configPath: string): Promise<number> {
  const config = loadAgentConfig(configPath);
  const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, name: 'install', secrets: agentSecrets(config) });
  const os = hostOs();
  const server = resolveAgentServers(config, os).find((s) => s.id === serverId);
  if (!server) {
    process.stderr.write(`no server "${serverId}" in ${config.configFile}; its servers are ${config.servers.map((s) => s.id).join(', ') || '(none)'}\n`);
    return 1;
  }
  const target = steamTarget(server);
  const steam = createSteamCmd(config, os, logger);
  await mkdir(target.installDir, { recursive: true });
  process.stdout.write(`installing ${server.profile.name} (Steam app ${target.appId}, branch ${target.branch}) into ${target.installDir} with ${steam.file}\n`);
  // Fresh app info: the build to expect must not come from a stale cache.
  await steam.clearAppInfoCache();
  const branches = await steam.appInfo(target.appId);
  const expected = branches.get(target.branch)?.buildid;
  if (expected === undefined) {
    process.stderr.write(`Steam knows no branch "${target.branch}" for app ${target.appId}; branches: ${[...branches.keys()].join(', ') || '(none)'} (servers[${serverId}].update.branch)\n`);
    return 1;
  }
  const bar = new ProgressBar(process.stderr);
  const result = await installBuild(steam, {
    ...target, retries: config.steamcmd.retries, retryDelayMs: config.steamcmd.retryDelayMs, logger, expectBuild: expected,
    onProgress: (p) => bar.update(p.phase, p.percent, p.done, p.total),
    onAttempt: (attempt, reason) => {
      bar.done();
      process.stderr.write(`${reason}; attempt ${attempt}\n`);
    },
  });
  bar.done();
  if (!result.ok) {
    process.stderr.write(`install failed: ${result.message}\n`);
    return 1;
  }
  process.stdout.write(`${serverId}: build ${result.build} ${result.upToDate ? 'already installed' : 'installed'} in ${target.installDir}\n`);
  return 0;
}
