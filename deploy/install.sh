#!/bin/sh
# Installs (or removes) the ReconSync agent on Linux as a systemd service.
#
#   sudo sh install.sh [reconsync-agent-<version>.tar.gz]   install or upgrade
#   sudo sh install.sh --uninstall [--purge]                remove (--purge: also config, data, user)
#
# Without a tarball it installs the unpacked bundle it sits in (<bundle>/deploy/install.sh).
# Layout: program /opt/reconsync, config + secrets /etc/reconsync (agent.yaml, agent.env),
# data /var/lib/reconsync/agent, units /etc/systemd/system/reconsync-agent.service and
# reconsync-agent-shutdown.service (saves and stops every game at host shutdown).
# Running it again upgrades the program and keeps agent.yaml, agent.env and the data;
# restarting the agent leaves running games running (the new agent adopts them).
#
# Options:
#   --prefix DIR    program folder (default /opt/reconsync)
#   --no-start      install and enable, but do not start the service
#   --uninstall     stop and remove the service and the program (running games keep running)
#   --purge         with --uninstall: also remove /etc/reconsync, /var/lib/reconsync and the user
# Environment:
#   DESTDIR         stage everything below this folder and skip useradd, chown and systemctl
#                   (packaging and tests)
set -eu

PREFIX=/opt/reconsync
CONF_DIR=/etc/reconsync
DATA_DIR=/var/lib/reconsync/agent
UNIT_DIR=/etc/systemd/system
UNIT=reconsync-agent.service
# Stopping this unit stops every game: it is started and enabled, never restarted or stopped here.
SHUTDOWN_UNIT=reconsync-agent-shutdown.service
SVC_USER=reconsync
NODE_MAJOR_MIN=20
DESTDIR=${DESTDIR:-}

MODE=install
PURGE=0
START=1
TARBALL=

say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --uninstall) MODE=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) usage 0 ;;
    -*) say "unknown option $1" >&2; usage 2 ;;
    *) [ -z "$TARBALL" ] || die "only one tarball, got '$TARBALL' and '$1'"; TARBALL=$1; shift ;;
  esac
done

case $PREFIX in /*) ;; *) die "--prefix must be an absolute path" ;; esac
PREFIX=${PREFIX%/}
if [ -z "$PREFIX" ]; then die "refusing to use / as the program folder"; fi

# Real installs need root; a DESTDIR staging run does not.
LIVE=1
if [ -n "$DESTDIR" ]; then
  LIVE=0
  case $DESTDIR in /*) ;; *) die "DESTDIR must be an absolute path" ;; esac
elif [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo sh $0 ...)"
fi

have_systemd() { [ "$LIVE" -eq 1 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

uninstall() {
  if have_systemd; then
    systemctl disable --now "$UNIT" 2>/dev/null || true
    # Not --now: stopping the shutdown hook would stop every game.
    systemctl disable "$SHUTDOWN_UNIT" 2>/dev/null || true
  fi
  rm -f "$DESTDIR$UNIT_DIR/$UNIT" "$DESTDIR$UNIT_DIR/$SHUTDOWN_UNIT"
  if have_systemd; then systemctl daemon-reload; systemctl reset-failed "$UNIT" 2>/dev/null || true; fi
  rm -rf "$DESTDIR$PREFIX"
  link=$DESTDIR/usr/local/bin/reconsync
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$PREFIX/reconsync" ]; then rm -f "$link"; fi
  say "Removed the service and $PREFIX. Game servers it started keep running; stop them yourself if they should not."
  if [ "$PURGE" -eq 1 ]; then
    rm -rf "$DESTDIR$CONF_DIR" "$DESTDIR${DATA_DIR%/agent}"
    if [ "$LIVE" -eq 1 ] && id "$SVC_USER" >/dev/null 2>&1; then userdel "$SVC_USER" || true; fi
    say "Purged $CONF_DIR, ${DATA_DIR%/agent} and the $SVC_USER user."
  else
    say "Kept $CONF_DIR and $DATA_DIR (add --purge to remove them)."
  fi
}

check_node() {
  command -v node >/dev/null 2>&1 || die "Node.js $NODE_MAJOR_MIN or newer is required (https://nodejs.org or your distribution's nodejs package)"
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge "$NODE_MAJOR_MIN" ] || die "Node.js $NODE_MAJOR_MIN or newer is required, found $(node --version)"
}

# Finds the bundle: the tarball's single top folder, or the folder this script sits in.
unpack() {
  work=$1
  if [ -n "$TARBALL" ]; then
    [ -f "$TARBALL" ] || die "no such file: $TARBALL"
    mkdir -p "$work/unpacked"
    tar -xzf "$TARBALL" -C "$work/unpacked"
    set -- "$work"/unpacked/*
    if [ $# -ne 1 ] || [ ! -f "$1/reconsync.js" ]; then
      die "$TARBALL is not a ReconSync agent bundle (expected one folder holding reconsync.js)"
    fi
    SRC=$1
  else
    # ${0%/*} rather than dirname: the same shell builtins the bundle's launcher relies on.
    case $0 in */*) script_dir=${0%/*} ;; *) script_dir=. ;; esac
    here=$(cd "$script_dir/.." && pwd)
    [ -f "$here/reconsync.js" ] || die "pass the reconsync-agent-<version>.tar.gz to install (no reconsync.js found in $here)"
    SRC=$here
  fi
}

write_starter_config() {
  conf=$DESTDIR$CONF_DIR
  mkdir -p "$conf"
  chmod 0750 "$conf"
  if [ ! -e "$conf/agent.yaml" ]; then
    host=$(hostname 2>/dev/null | tr -c 'A-Za-z0-9._\n-' '-' | head -c 60)
    cat > "$conf/agent.yaml" <<EOF
# ReconSync agent. Check it with: reconsync config check $CONF_DIR/agent.yaml
# Secrets come from $CONF_DIR/agent.env (\${VAR} is replaced from the environment).
id: ${host:-agent-1}
hub:
  url: \${RECONSYNC_HUB_URL}          # e.g. wss://hub.example.org/agent
  token: \${RECONSYNC_AGENT_TOKEN}    # from: reconsync token create <id> --config hub.yaml
dataDir: $DATA_DIR
servers: []
# servers:
#   - id: valheim-main
#     game: valheim                    # reconsync games lists the profiles
#     installDir: /opt/valheim
#     start: { command: ./valheim_server.x86_64, args: [-name, MyServer, -port, "2456", -world, Dedicated, -password, secret], cwd: /opt/valheim }
#     backup: { schedule: "0 */6 * * *", destinations: [local] }
# Every installDir/saveDir must be writable by the service: see
# $PREFIX/deploy/systemd/agent-paths.conf.example
EOF
    chmod 0640 "$conf/agent.yaml"
    say "Wrote a starter $CONF_DIR/agent.yaml."
  fi
  if [ ! -e "$conf/agent.env" ]; then
    umask 077
    cat > "$conf/agent.env" <<EOF
# KEY=value lines read by reconsync-agent.service (EnvironmentFile=). Keep it 0640.
RECONSYNC_HUB_URL=ws://127.0.0.1:7780/agent
RECONSYNC_AGENT_TOKEN=
EOF
    umask 022
    chmod 0640 "$conf/agent.env"
    say "Wrote $CONF_DIR/agent.env: put the agent token there."
  fi
  if [ "$LIVE" -eq 1 ]; then chown -R "root:$SVC_USER" "$conf"; fi
}

# An agent that keeps running across the swap (--no-start, or its config check failed) loads
# its code chunks on first use by the old version's hashed names: keep those (lib/chunks.txt
# of the old version; one generation) in the new folder, so its next backup does not fail.
carry_chunks() {
  [ -f "$1/lib/chunks.txt" ] || return 0
  mkdir -p "$2/lib"
  while IFS= read -r chunk; do
    case $chunk in
      */*) continue ;;
      chunk-*.js) ;;
      *) continue ;;
    esac
    if [ -f "$1/lib/$chunk" ] && [ ! -e "$2/lib/$chunk" ]; then cp -p "$1/lib/$chunk" "$2/lib/$chunk"; fi
  done < "$1/lib/chunks.txt"
}

install_program() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/reconsync-install.XXXXXX")
  # shellcheck disable=SC2064 # expand $work now: it is local to this call
  trap "rm -rf '$work'" EXIT INT TERM
  unpack "$work"
  target=$DESTDIR$PREFIX
  if [ "$SRC" = "$target" ]; then
    say "$PREFIX is already the unpacked bundle; leaving the program files as they are."
  else
    # Copy next to the target, then swap, so a failed copy never leaves half a program.
    mkdir -p "$(dirname "$target")"
    rm -rf "$target.new" "$target.old"
    cp -R "$SRC" "$target.new"
    chmod -R u=rwX,go=rX "$target.new"
    chmod 0755 "$target.new/reconsync"
    carry_chunks "$target" "$target.new"
    if [ -e "$target" ]; then mv "$target" "$target.old"; fi
    mv "$target.new" "$target"
    rm -rf "$target.old"
    say "Installed the program in $PREFIX ($(node "$target/reconsync.js" --version 2>/dev/null || echo 'version unknown'))."
  fi
  mkdir -p "$DESTDIR/usr/local/bin"
  ln -sf "$PREFIX/reconsync" "$DESTDIR/usr/local/bin/reconsync"
}

install_unit() {
  mkdir -p "$DESTDIR$UNIT_DIR" "$DESTDIR$DATA_DIR"
  # The shipped units assume /opt/reconsync; follow --prefix.
  for u in "$UNIT" "$SHUTDOWN_UNIT"; do
    sed "s#/opt/reconsync/#$PREFIX/#g" "$DESTDIR$PREFIX/deploy/systemd/$u" > "$DESTDIR$UNIT_DIR/$u.tmp"
    chmod 0644 "$DESTDIR$UNIT_DIR/$u.tmp"
    mv "$DESTDIR$UNIT_DIR/$u.tmp" "$DESTDIR$UNIT_DIR/$u"
  done
  if [ "$LIVE" -eq 1 ]; then
    chown "$SVC_USER:$SVC_USER" "$DATA_DIR"
    chmod 0750 "$DATA_DIR"
  fi
  if ! have_systemd; then
    if [ "$LIVE" -eq 1 ]; then say "systemd is not running here: installed $UNIT_DIR/$UNIT but did not enable it."; fi
    return 0
  fi
  systemctl daemon-reload
  systemctl enable "$UNIT" "$SHUTDOWN_UNIT" >/dev/null
  if [ "$START" -eq 0 ]; then
    say "Enabled $UNIT (not started: --no-start)."
  elif config_ok; then
    # Arms the shutdown hook (a no-op when it is already active; the agent's Wants= would too).
    # Never restart it: that stops every game. Restarting the agent leaves its games running.
    systemctl start "$SHUTDOWN_UNIT"
    systemctl restart "$UNIT"
    say "Started $UNIT. Follow it with: journalctl -u $UNIT -f"
  else
    say "Enabled $UNIT but did not start it: $CONF_DIR/agent.yaml does not pass 'reconsync config check' yet."
    say "Edit $CONF_DIR/agent.yaml and $CONF_DIR/agent.env, then: systemctl start $UNIT"
  fi
}

# Validates agent.yaml with the secrets of agent.env, as the service will see them.
config_ok() {
  (
    set -a
    # shellcheck disable=SC1090,SC1091 # operator's file, path known only at run time
    . "$CONF_DIR/agent.env"
    set +a
    node "$PREFIX/reconsync.js" config check "$CONF_DIR/agent.yaml"
  )
}

if [ "$MODE" = uninstall ]; then
  uninstall
  exit 0
fi

check_node
if [ "$LIVE" -eq 1 ] && ! id "$SVC_USER" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/reconsync --no-create-home --shell /usr/sbin/nologin "$SVC_USER"
  say "Created the system user $SVC_USER."
fi
install_program
write_starter_config
install_unit
say "Done. Game folders the agent must write: see $PREFIX/deploy/systemd/agent-paths.conf.example"
