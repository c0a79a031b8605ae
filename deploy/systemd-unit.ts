import path from 'node:path';

/**
 * Renders reconsync-agent.service and reconsync-agent-shutdown.service. The files
 * in deploy/systemd/ are these functions' output with the defaults (a test keeps
 * them identical), so the files operators read and the units `reconsync agent
 * service install` writes never drift apart.
 *
 * Lifecycle (README "What stopping the agent does to games"): stopping or
 * restarting the agent never stops a game (KillMode=process: systemd signals the
 * agent only, and the agent leaves its games running for the next agent to
 * adopt). The shutdown unit does nothing when started; its ExecStop= runs
 * `reconsync agent stop-games` when it is stopped, which in practice means at
 * host shutdown, after the agent itself has stopped.
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
  /** The agent unit's name without ".service"; the shutdown unit is `<serviceName>-shutdown.service`. */
  serviceName: string;
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
  serviceName: 'reconsync-agent',
} as const satisfies AgentUnitOptions;

/** Quotes one word for a unit file: `%` starts a specifier everywhere, `$` a variable in ExecStart=. */
/** The sandbox settings both units share after ProtectHome=, and their [Install] section. */
const SANDBOX_AND_INSTALL = `PrivateTmp=yes
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

/** The unit that stops every managed game at host shutdown, for an agent unit named `serviceName`. */
export function shutdownUnitName(serviceName: string = DefaultAgentUnitOptions.serviceName): string {
  return `${serviceName}-shutdown.service`;
}
/** How long systemd waits for the agent to stop (it exits in seconds: STOP_DEADLINE_MS in lib/graceful-stop.ts). */
export const AGENT_TIMEOUT_STOP = '30s';
/** How long the shutdown hook may take: every game's save and stop, all at once (stop.timeoutMs + soft stop + kill). */
export const SHUTDOWN_TIMEOUT_STOP = '300s';

function checked(partial: Partial<AgentUnitOptions>): AgentUnitOptions {
  const o: AgentUnitOptions = { ...DefaultAgentUnitOptions, ...partial, writablePaths: [...(partial.writablePaths ?? DefaultAgentUnitOptions.writablePaths)] };
  for (const name of [o.user, o.group]) {
    if (!/^[a-z_][a-z0-9_-]*\$?$/i.test(name)) throw new Error(`"${name}" is not a valid user or group name`);
  }
  if (!/^[A-Za-z0-9_.@-]+$/.test(o.serviceName)) throw new Error(`"${o.serviceName}" is not a valid unit name`);
  for (const p of [o.entry, o.configPath, o.envFile, o.dataDir, ...o.writablePaths]) {
    if (!path.posix.isAbsolute(p)) throw new Error(`systemd unit paths must be absolute, got "${p}"`);
  }
  return o;
}

const clean = (p: string) => path.posix.normalize(p).replace(/(.)\/+$/, '$1');

/** `node <entry> agent [sub] --config <file>` as an Exec line. */
function execLine(o: AgentUnitOptions, sub: string[]): string {
  return [...o.node.split(' '), o.entry, 'agent', ...sub, '--config', o.configPath].map((w) => unitWord(w, true)).join(' ');
}

/**
 * The folder holding README.md and deploy/: the bundle's own folder, or the checkout's
 * root when the entry is its bin/reconsync.js (as resolveProgramLocation finds it), so
 * the unit never points at a file that is not there.
 */
function programDir(entry: string): string {
  const dir = path.posix.dirname(entry);
  return path.posix.basename(dir) === 'bin' && path.posix.basename(entry) === 'reconsync.js' ? path.posix.dirname(dir) : dir;
}

function docLine(o: AgentUnitOptions): string {
  const readme = path.posix.join(programDir(o.entry), 'README.md');
  return /[\s%]/.test(readme) ? '' : `Documentation=file:${readme}\n`;
}

export function renderAgentUnit(partial: Partial<AgentUnitOptions> = {}): string {
  const o = checked(partial);
  const dataDir = clean(o.dataDir);
  // StateDirectory= creates the folder owned by the service user before the sandbox is set up.
  const stateLines = dataDir.startsWith(STATE_ROOT) ? [`StateDirectory=${unitWord(dataDir.slice(STATE_ROOT.length))}`, 'StateDirectoryMode=0750'] : [];
  const extra = [...new Set(o.writablePaths.map(clean))].filter((p) => p !== dataDir);
  // "-" = a missing game folder does not stop the agent from starting.
  const extraLine = extra.length ? [`ReadWritePaths=${extra.map((p) => `-${unitWord(p)}`).join(' ')}`] : [];
  const exec = execLine(o, []);

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
# (example: ${path.posix.join(programDir(o.entry), 'deploy/systemd/agent-paths.conf.example')}). The service user needs Unix
# permissions on them too (or set User= to the account that owns the game).
#
# Stopping, restarting or upgrading this service stops the agent only: managed
# game servers keep running and the next agent adopts them without a restart.
# At host shutdown ${shutdownUnitName(o.serviceName)} saves and stops every game.

[Unit]
Description=ReconSync agent (game server supervisor and backups)
${docLine(o)}Wants=network-online.target ${shutdownUnitName(o.serviceName)}
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
# SIGTERM (and, after the timeout, SIGKILL) goes to the agent only, never to the
# games it started: they live in this unit's control group but outside the
# agent's lifetime. The agent finishes its own work and exits within seconds.
KillMode=process
TimeoutStopSec=${AGENT_TIMEOUT_STOP}

# Hardening. No MemoryDenyWriteExecute: V8's JIT (and Unity/Unreal game servers)
# need writable+executable pages.
NoNewPrivileges=yes
ProtectSystem=strict
# Game saves often live under a home folder (~/.config/unity3d, ~/Zomboid,
# ~/.local/share/7DaysToDie): homes stay visible but read-only, and the
# ReadWritePaths= above make the save folders writable again.
ProtectHome=read-only
${SANDBOX_AND_INSTALL}`;
}

/**
 * reconsync-agent-shutdown.service: a oneshot that stays "active" from boot on
 * and does its work when stopped. Units stop in the reverse order of starting,
 * so with Before=<agent unit> its ExecStop= runs after the agent has
 * exited (nothing is left to restart the games) and, with
 * After=network-online.target, while the network still runs (admin channels).
 */
export function renderShutdownUnit(partial: Partial<AgentUnitOptions> = {}): string {
  const o = checked(partial);
  const dataDir = clean(o.dataDir);
  return `# ReconSync agent: stops every managed game server gracefully at host shutdown
# (admin-channel save + stop, then the soft signal, then a kill after the
# server's stop.timeoutMs) with \`reconsync agent stop-games\`. It does not record
# an operator stop: the games start again with the agent on the next boot.
#
# Starting this unit does nothing; stopping it stops the games. So:
#   - never \`systemctl restart\` it (that stops every game);
#   - to take every game down by hand:
#       systemctl stop ${o.serviceName} ${shutdownUnitName(o.serviceName)}
#     and \`systemctl start ${o.serviceName}\` brings both back.
# Stopping or restarting ${o.serviceName}.service alone leaves the games running.

[Unit]
Description=ReconSync agent: stop game servers gracefully at host shutdown
${docLine(o)}Wants=network-online.target
After=network-online.target
# Stops after the agent has stopped (reverse start order), while the network is up.
Before=${o.serviceName}.service

[Service]
Type=oneshot
RemainAfterExit=yes
User=${o.user}
Group=${o.group}
ExecStart=/bin/true
ExecStop=${execLine(o, ['stop-games'])}
EnvironmentFile=-${unitPath(o.envFile)}
Environment=NODE_ENV=production
WorkingDirectory=-${unitPath(dataDir)}
ReadWritePaths=${unitWord(dataDir)}
UMask=0027
# Long enough for every game to save and stop (in parallel; one game takes at most
# 3 x its stop.timeoutMs + 20 s). Raise it in a drop-in for stop.timeoutMs above 90 s.
TimeoutStopSec=${SHUTDOWN_TIMEOUT_STOP}

NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
${SANDBOX_AND_INSTALL}`;
}
