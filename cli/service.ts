import path from 'node:path';
import { loadAgentConfig } from '../agent/config.ts';
import { resolveAgentServers } from '../agent/resolve-servers.ts';
import { agentServiceStatus, agentWritablePaths, installAgentService, resolveProgramLocation, uninstallAgentService, type ServicePlan } from '../deploy/service-install.ts';

function describePlan(plan: ServicePlan): string {
  return plan.steps
    .map((s) => (s.kind === 'write' ? `  write ${s.path}` : s.kind === 'remove' ? `  remove ${s.path}` : `  ${s.command} ${s.args.join(' ')}`))
    .join('\n');
}

/** `reconsync agent service install|uninstall|status --config agent.yaml [--dry-run]`. */
export async function runServiceCommand(sub: string | undefined, configPath: string, opts: { dryRun: boolean }): Promise<number> {
  const platform = process.platform === 'win32' ? 'windows' : 'linux';
  const systemRoot = process.env.SystemRoot;
  if (sub === 'status') {
    const status = await agentServiceStatus({ platform, systemRoot });
    process.stdout.write(`${status.serviceName}: ${status.installed ? 'installed' : 'not installed'}, ${status.enabled ? 'enabled' : 'disabled'}, ${status.running ? 'running' : 'stopped'}${status.detail ? ` (${status.detail})` : ''}\n`);
    return status.running ? 0 : 1;
  }
  if (sub !== 'install' && sub !== 'uninstall') {
    process.stderr.write('usage: reconsync agent service install|uninstall|status --config agent.yaml [--dry-run]\n');
    return 2;
  }
  const cfg = loadAgentConfig(configPath);
  const { bundleDir, entry } = resolveProgramLocation();
  const common = { platform, configPath: path.resolve(configPath), bundleDir, entry, systemRoot, dryRun: opts.dryRun } as const;
  if (sub === 'install') {
    // The unit's sandbox must let the agent write its data, the game folders and the save folders.
    const servers = resolveAgentServers(cfg, platform);
    const plan = await installAgentService({ ...common, dataDir: cfg.dataDir, writablePaths: agentWritablePaths(cfg, servers.flatMap((s) => s.savePaths)) });
    process.stdout.write(`${opts.dryRun ? 'Would run' : 'Installed the agent service'}:\n${describePlan(plan)}\n`);
  } else {
    const plan = await uninstallAgentService(common);
    process.stdout.write(`${opts.dryRun ? 'Would run' : 'Removed the agent service'}:\n${describePlan(plan)}\n`);
  }
  return 0;
}
