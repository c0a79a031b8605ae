import path from 'node:path';

/**
 * Renders reconsync-agent.service. deploy/systemd/reconsync-agent.service is this
 * function's output with the defaults (a test keeps the two identical), so the
 * file operators read and the unit `reconsync agent service install` writes
 * never drift apart.
 */
export interface AgentUnitOptions {
  /** The bundled CLI, run by `node`. */
  entry: string;
  /** Absolute path of agent.yaml. */
  configPath: string;
  user: string;
  group: string;
  /** Optional KEY=value file with the secrets agent.yaml references as ${VAR}. */
  envFile: string;
  /** agent.yaml's dataDir (absolute). Under /var/lib it becomes a StateDirectory=. */
  dataDir: string;
  /** Game install and save folders (and path destinations) the agent must write. */
  writablePaths: string[];
  /** How systemd finds node: `/usr/bin/env node` follows systemd's PATH (/usr/local/bin, /usr/bin). */
  node: string;
}

export const DefaultAgentUnitOptions = {
  entry: '/opt/reconsync/reconsync.js',
  configPath: '/etc/reconsync/agent.yaml',
  user: 'reconsync',
  group: 'reconsync',
  envFile: '/etc/reconsync/agent.env',
  dataDir: '/var/lib/reconsync/agent',
  writablePaths: [],
  node: '/usr/bin/env node',
} as const satisfies AgentUnitOptions;

/** Quotes one word for a unit file: `%` starts a specifier everywhere, `$` a variable in ExecStart=. */
export function unitWord(word: string, exec = false): string {
  const specifierSafe = word.replace(/%/g, '%%');
  const escaped = exec ? specifierSafe.replace(/\$/g, '$$$$') : specifierSafe;
  return /[\s"'\\;]/.test(escaped) ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped;
}

/** A setting that takes exactly one path (WorkingDirectory=, EnvironmentFile=) reads the rest of the line unquoted. */
function unitPath(p: string): string {
  return p.replace(/%/g, '%%');
}

const STATE_ROOT = '/var/lib/';

export function renderAgentUnit(partial: Partial<AgentUnitOptions> = {}): string {
  const o: AgentUnitOptions = { ...DefaultAgentUnitOptions, ...partial, writablePaths: [...(partial.writablePaths ?? DefaultAgentUnitOptions.writablePaths)] };
  for (const name of [o.user, o.group]) {
    if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(name)) throw new Error(`"${name}" is not a valid user or group name`);
  }
  for (const p of [o.entry, o.configPath, o.envFile, o.dataDir, ...o.writablePaths]) {
    if (!path.posix.isAbsolute(p)) throw new Error(`systemd unit paths must be absolute, got "${p}"`);
  }
  const clean = (p: string) => path.posix.normalize(p).replace(/(.)\/+$/, '$1');
  const dataDir = clean(o.dataDir);
  // StateDirectory= creates the folder owned by the service user before the sandbox is set up.
  const stateLines = dataDir.startsWith(STATE_ROOT) ? [`StateDirectory=${unitWord(dataDir.slice(STATE_ROOT.length))}`, 'StateDirectoryMode=0750'] : [];
  const extra = [...new Set(o.writablePaths.map(clean))].filter((p) => p !== dataDir);
  // "-" = a missing game folder does not stop the agent from starting.
  const extraLine = extra.length ? [`ReadWritePaths=${extra.map((p) => `-${unitWord(p)}`).join(' ')}`] : [];
  const exec = [...o.node.split(' '), o.entry, 'agent', '--config', o.configPath].map((w) => unitWord(w, true)).join(' ');
  const readme = path.posix.join(path.posix.dirname(o.entry), 'README.md');
  const docLine = /[\s%]/.test(readme) ? '' : `Documentation=file:${readme}\n`;

  return `# ReconSync agent. Install layout: program in /opt/reconsync (the agent bundle),
# config in /etc/reconsync/agent.yaml, data (outbox, staging, local backups) in
# /var/lib/reconsync/agent (agent.yaml: dataDir). Secrets (RECONSYNC_AGENT_TOKEN,
# RCON_PASSWORD, ...) go in /etc/reconsync/agent.env (0640, root:reconsync).
#
# The agent reads and restores game saves and, for managed servers, runs the game
# process itself (the game inherits this sandbox). Every game install and save
# folder must therefore be writable: \`reconsync agent service install\` lists the
# folders of agent.yaml below; for a hand-installed unit add them in a drop-in,
#   /etc/systemd/system/reconsync-agent.service.d/paths.conf
# (see agent-paths.conf.example next to this file). The service user needs Unix
# permissions on them too (or set User= to the account that owns the game).

[Unit]
Description=ReconSync agent (game server supervisor and backups)
${docLine}Wants=network-online.target
After=network-online.target
# Give up after 5 failed starts in 5 minutes instead of looping forever.
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
Type=simple
User=${o.user}
Group=${o.group}
ExecStart=${exec}
EnvironmentFile=-${unitPath(o.envFile)}
Environment=NODE_ENV=production
WorkingDirectory=-${unitPath(dataDir)}
${[...stateLines, `ReadWritePaths=${unitWord(dataDir)}`, ...extraLine].join('\n')}
UMask=0027

Restart=on-failure
RestartSec=5s
# 2 = usage error, 3 = invalid config: restarting cannot fix those.
RestartPreventExitStatus=2 3
# SIGTERM goes to the agent only; it stops its managed game servers gracefully
# (save, stop command, soft signal). Whatever is left after the timeout is killed.
KillMode=mixed
TimeoutStopSec=120s

# Hardening. No MemoryDenyWriteExecute: V8's JIT (and Unity/Unreal game servers)
# need writable+executable pages.
NoNewPrivileges=yes
ProtectSystem=strict
# Game saves often live under a home folder (~/.config/unity3d, ~/Zomboid,
# ~/.local/share/7DaysToDie): homes stay visible but read-only, and the
# ReadWritePaths= above make the save folders writable again.
ProtectHome=read-only
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
AmbientCapabilities=
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK

[Install]
WantedBy=multi-user.target
`;
}
