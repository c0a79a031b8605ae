/** Small text files of the agent bundle: the sh launcher and the README (reconsync.exe: bundle-windows.ts). */

/**
 * sh launcher. Only sh builtins and node: minimal hosts and service managers give
 * a PATH without dirname or readlink, and the launcher then fell back to the
 * current folder. A symlink (install.sh links /usr/local/bin/reconsync here) is
 * resolved by node, which is needed anyway.
 */
export function shLauncher(): string {
  return `#!/bin/sh
# Runs the ReconSync CLI from this folder. Needs Node.js 20+ on PATH (or NODE=/path/to/node).
node=\${NODE:-node}
self=$0
if [ -L "$self" ]; then
  self=$("$node" -e 'process.stdout.write(require("fs").realpathSync(process.argv[1]))' "$self") || exit 1
fi
case $self in
  */*) here=\${self%/*} ;;
  *) here=. ;;
esac
exec "$node" "$here/reconsync.js" "$@"
`;
}

export function bundleReadme(version: string): string {
  return `# ReconSync agent ${version}

The ReconSync agent in one folder: it needs only Node.js 20 or newer, no npm install.
It watches and (optionally) runs your game servers, backs their worlds up to local
disk and rclone remotes, and reports to a ReconSync hub.

## Try it

    ./reconsync --version                 # Windows: .\\reconsync.exe --version
    ./reconsync games                     # the supported games
    cp deploy/examples/agent.yaml agent.yaml   # edit: id, hub url, servers
    RECONSYNC_AGENT_TOKEN=... ./reconsync config check agent.yaml
    RECONSYNC_AGENT_TOKEN=... ./reconsync agent --config agent.yaml

The token comes from the hub: \`reconsync token create <agent id> --config hub.yaml\`.

## Run it as a service

- Linux (systemd): \`sudo sh deploy/install.sh\` installs this folder to /opt/reconsync,
  creates the \`reconsync\` user, a starter /etc/reconsync/agent.yaml and agent.env
  (put the token there), and enables reconsync-agent.service. Game folders the agent
  writes must be allowed in the unit: see deploy/systemd/agent-paths.conf.example,
  or use \`reconsync agent service install --config agent.yaml\`, which lists them for you.
  Stopping, restarting or upgrading the agent leaves your games running (the next agent
  adopts them); at host shutdown reconsync-agent-shutdown.service saves and stops them.
  Remove with \`sudo sh deploy/install.sh --uninstall\` (running games keep running).
- Windows (elevated PowerShell):
  \`powershell -ExecutionPolicy Bypass -File deploy\\windows\\install-agent.ps1 -ConfigPath C:\\ProgramData\\ReconSync\\agent.yaml\`
  registers the ReconSyncAgent service (restart on failure, logs in
  C:\\ProgramData\\ReconSync\\logs). It runs, and so do your games, as the virtual account
  NT SERVICE\\ReconSyncAgent, not SYSTEM: pass -WritablePaths "D:\\Games\\ark;..." for the
  game folders it must write (\`reconsync.exe agent service install\` does that from
  agent.yaml). \`deploy\\windows\\uninstall-agent.ps1\` removes it.

## What is in here

- reconsync.js and lib/: the CLI (lib/ holds its modules, each read when a command first
  needs it); reconsync (sh) and reconsync.exe (Windows):
  launchers that pass your arguments to it unchanged (built from
  deploy/windows/launcher/ReconSyncCli.cs, which says why Windows gets no .cmd)
- zstd-wasm.cjs + zstd.wasm, pino-*.cjs, thread-stream-worker.cjs: worker-thread helpers
  reconsync.js loads from this folder (keep them together)
- games/: game profiles; add your own with \`gamesDir\` in agent.yaml
- deploy/: systemd units, install.sh, the Windows service, an example agent.yaml
- THIRD-PARTY-NOTICES.txt: licenses of the bundled open-source packages

The hub is not part of this bundle: run it from a checkout of the ReconSync repository
(npm ci, then bin/reconsync.js hub) or its container image (deploy/Dockerfile there).
`;
}
