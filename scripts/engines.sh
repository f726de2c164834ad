#!/usr/bin/env bash
# More engines for the tests to run against, beside the Docker engine of scripts/engine.sh:
# each installed, started and stopped by this script, with everything of its own (socket,
# data, runtime state, bridge), so that the machine's own engine is never touched.
#
#   scripts/engines.sh podman up      Debian's Podman (4.3) serving its Docker-compatible API
#   scripts/engines.sh docker26 up    Docker 26.1 (API 1.45): Debian 13's docker.io and
#                                     containerd, unpacked under a directory, Debian 12's runc
#   scripts/engines.sh ENGINE down    stop it (by its pid), remove its containers, its bridge
#                                     and its data
#   scripts/engines.sh ENGINE host    print its DOCKER_HOST (whether it runs or not)
#
# `up` starts the engine unless it already answers (a fresh data root every start), loads the
# test image dockstate-test/busybox:latest into it (scripts/engine.sh image), and prints the
# DOCKER_HOST to use, e.g. `DOCKER_HOST=$(scripts/engines.sh podman up) pytest tests/integration`.
# Everything lives under directories named for this checkout (/run/dse-KEY, /var/lib/dse-KEY),
# so two checkouts on one machine each have their own engines. Needs root (Debian).
#
# Never: --bridge=none or --default-address-pool for a dockerd (each has deleted the host's
# docker0, which the machine's own dockerd needs); stopping anything by name. After each start
# the host's docker0 (if it had one) must still be there, or this fails loudly.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KEY="$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"
RUN_BASE="/run/dse-$KEY"            # sockets, pidfiles, exec roots (short: unix socket paths)
DATA_BASE="/var/lib/dse-$KEY"       # data roots, wiped at every start
CACHE="/var/cache/dockstate-engines" # downloaded packages, shared by checkouts, kept
# Debian 13's packages of Docker 26.1.5 (API 1.45) and the containerd it was built with.
TRIXIE_PACKAGES=(docker.io containerd)

usage() { die "usage: scripts/engines.sh podman|docker26 up|down|host"; }

# -- shared --------------------------------------------------------------------------------

answers() { DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# wait_answers HOST PID LOG: wait until the engine at HOST answers; fail (with its log) if its
# process PID exits first or it takes over 60 s.
wait_answers() {
  local host="$1" pid="$2" log="$3"
  for _ in $(seq 1 240); do
    answers "$host" && return 0
    kill -0 "$pid" 2>/dev/null || { tail -30 "$log" >&2; die "the engine exited (log: $log)"; }
    sleep 0.25
  done
  tail -30 "$log" >&2
  die "the engine did not answer at $host within 60 s (log: $log)"
}

# stop_pid PIDFILE: TERM the process whose pid the file holds (ours), KILL it after 30 s.
stop_pid() {
  local pid
  pid="$(cat "$1" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
  kill -TERM "$pid"
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

# remove_containers HOST: remove every container of the engine at HOST (its containers only
# outlive their engine's process under Podman, whose conmon keeps them; do it for both).
remove_containers() {
  local ids
  answers "$1" || return 0
  ids="$(DOCKER_HOST="$1" docker ps -aq 2>/dev/null || true)"
  [ -z "$ids" ] || DOCKER_HOST="$1" timeout 120 docker rm -f $ids >/dev/null 2>&1 || true
}

# wipe DIR: unmount whatever is still mounted under DIR (deepest first), then remove it.
wipe() {
  local dir="$1"
  [ -e "$dir" ] || return 0
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r \
    | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
  rm -rf "$dir"
}

# free_subnet PREFIX START: the first 10.PREFIX.N.0/24 (N from START on) that no route of the
# host overlaps, as N.
free_subnet() {
  local prefix="$1" n
  for i in $(seq 0 255); do
    n=$(( ($2 + i) % 256 ))
    ip -4 route show to match "10.$prefix.$n.1" | grep -qv '^default' || { echo "$n"; return 0; }
  done
  die "no free 10.$prefix.N.0/24 for a bridge"
}

# add_bridge NAME PREFIX: a bridge of our own with the first free 10.PREFIX.N.1/24.
add_bridge() {
  local name="$1" n
  ip link show "$name" >/dev/null 2>&1 && ip link delete "$name"
  n="$(free_subnet "$2" "$((16#${KEY:0:2}))")"
  ip link add "$name" type bridge
  ip addr add "10.$2.$n.1/24" dev "$name"
  ip link set "$name" up
  echo "10.$2.$n"
}

# note_docker0, check_docker0 ENGINE: the host's docker0 (the machine's own dockerd needs it),
# if it had one before ENGINE started, must still be there after; if not, stop ENGINE and fail.
note_docker0() { HAD_DOCKER0=""; ip link show docker0 >/dev/null 2>&1 && HAD_DOCKER0=1 || true; }
check_docker0() {
  [ -z "$HAD_DOCKER0" ] || ip link show docker0 >/dev/null 2>&1 && return 0
  "$1_down"
  die "THE HOST'S docker0 IS GONE after starting $1 (stopped it again): the machine's own dockerd needs docker0; restarting that dockerd makes it anew"
}

load_image() { DOCKER_HOST="$1" "$ROOT/scripts/engine.sh" image; }

# -- Podman ----------------------------------------------------------------------------------

podman_dirs() {
  P_RUN="$RUN_BASE/podman"
  P_DATA="$DATA_BASE/podman"
  P_SOCK="$P_RUN/docker.sock"
  P_HOST="unix://$P_SOCK"
}

# podman_env: the environment that makes the podman CLI use this engine's configuration.
podman_env() {
  export CONTAINERS_CONF="$P_RUN/containers.conf" CONTAINERS_STORAGE_CONF="$P_RUN/storage.conf"
}

podman_up() {
  podman_dirs
  if answers "$P_HOST"; then echo "$P_HOST"; return 0; fi
  command -v podman >/dev/null || apt_install podman
  apt_install containernetworking-plugins busybox-static
  podman_stop
  wipe "$P_DATA"
  wipe "$P_RUN"
  mkdir -p "$P_RUN/networks" "$P_DATA"
  note_docker0
  # Its default network is Podman's own ("podman", which its API lists as "bridge"), on
  # Podman's bridge cni-podman0, with a subnet no route of the host has; the networks the
  # tests create get bridges cni-podmanN and subnets Podman picks.
  local net
  net="$(free_subnet 201 "$((16#${KEY:0:2}))")"
  # The machine's hard limits are below Podman's defaults (nofile 1048576): containers get
  # limits under them. cgroupfs and a file of events: no systemd here.
  cat >"$P_RUN/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P_RUN/events.log"
tmp_dir = "$P_RUN/tmp"

[network]
network_backend = "cni"
network_config_dir = "$P_RUN/networks"
default_subnet = "10.201.$net.0/24"
EOF
  cat >"$P_RUN/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$P_DATA/storage"
runroot = "$P_RUN/storage"
EOF
  podman_env
  say "starting Podman $(podman --version | awk '{print $3}') (log: $P_RUN/podman.log)"
  setsid podman system service --time=0 "$P_HOST" >>"$P_RUN/podman.log" 2>&1 </dev/null &
  echo $! >"$P_RUN/podman.pid"
  wait_answers "$P_HOST" "$(cat "$P_RUN/podman.pid")" "$P_RUN/podman.log"
  check_docker0 podman
  load_image "$P_HOST"
  echo "$P_HOST"
}

podman_stop() {
  podman_dirs
  remove_containers "$P_HOST"
  stop_pid "$P_RUN/podman.pid"
}

podman_down() {
  podman_stop
  # Podman's bridges (cni-podmanN) are named the same by every Podman: remove those that no
  # container of anyone's uses any more.
  local dev
  for dev in /sys/class/net/cni-podman*; do
    [ -d "$dev/brif" ] && [ -z "$(ls -A "$dev/brif")" ] && ip link delete "${dev##*/}" 2>/dev/null || true
  done
  wipe "$P_DATA"
  wipe "$P_RUN"
}

# -- Docker 26 -------------------------------------------------------------------------------

docker26_dirs() {
  D_RUN="$RUN_BASE/docker26"
  D_DATA="$DATA_BASE/docker26"
  D_SOCK="$D_RUN/docker.sock"
  D_HOST="unix://$D_SOCK"
  D_BRIDGE="dsd$KEY"
  D_BIN="$CACHE/docker26"
}

# docker26_install: Debian 13's docker.io and containerd, downloaded with a private apt
# configuration (its own sources list, lists and cache: the machine's apt is left as it is)
# and unpacked under $D_BIN. Their runc is not taken: Debian 13's needs a newer glibc, and
# Debian 12's own runc runs the containers.
docker26_install() {
  [ -x "$D_BIN/usr/sbin/dockerd" ] && [ -x "$D_BIN/usr/bin/containerd" ] && return 0
  apt_install runc
  local apt="$CACHE/apt" debs
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$CACHE/debs"
  cat >"$apt/trixie.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local opts=(-o "Dir::Etc::sourcelist=$apt/trixie.sources" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Get::List-Cleanup=0"
    -o "APT::Sandbox::User=root")
  say "downloading Debian 13's ${TRIXIE_PACKAGES[*]} (private apt lists in $apt)"
  apt-get "${opts[@]}" update -qq >/dev/null
  (cd "$CACHE/debs" && rm -f ./*.deb && apt-get "${opts[@]}" download -qq "${TRIXIE_PACKAGES[@]}")
  debs=("$CACHE"/debs/*.deb)
  rm -rf "$D_BIN.new" && mkdir -p "$D_BIN.new"
  for deb in "${debs[@]}"; do dpkg -x "$deb" "$D_BIN.new"; done
  rm -rf "$D_BIN" && mv "$D_BIN.new" "$D_BIN"
}

docker26_up() {
  docker26_dirs
  if answers "$D_HOST"; then echo "$D_HOST"; return 0; fi
  docker26_install
  apt_install busybox-static
  docker26_stop
  note_docker0
  # A fresh data root every start: a stale default network in it is what makes a dockerd
  # delete the host's docker0.
  wipe "$D_DATA"
  mkdir -p "$D_RUN" "$D_DATA"
  local net
  net="$(add_bridge "$D_BRIDGE" 200)"
  say "starting Docker $("$D_BIN/usr/sbin/dockerd" --version | awk '{print $3}' | tr -d ,) on bridge $D_BRIDGE ($net.0/24; log: $D_RUN/dockerd.log)"
  # PATH: its own containerd, shims and docker-proxy first; runc is Debian 12's.
  PATH="$D_BIN/usr/sbin:$D_BIN/usr/bin:$PATH" setsid "$D_BIN/usr/sbin/dockerd" \
    --host "$D_HOST" --data-root "$D_DATA" --exec-root "$D_RUN/exec" \
    --pidfile "$D_RUN/dockerd.pid" --bridge "$D_BRIDGE" --iptables=false --ip6tables=false \
    >>"$D_RUN/dockerd.log" 2>&1 </dev/null &
  echo $! >"$D_RUN/launched.pid"
  wait_answers "$D_HOST" "$(cat "$D_RUN/launched.pid")" "$D_RUN/dockerd.log"
  check_docker0 docker26
  load_image "$D_HOST"
  echo "$D_HOST"
}

docker26_stop() {
  docker26_dirs
  remove_containers "$D_HOST"
  stop_pid "$D_RUN/launched.pid"
}

docker26_down() {
  docker26_stop
  ip link show "$D_BRIDGE" >/dev/null 2>&1 && ip link delete "$D_BRIDGE"
  wipe "$D_DATA"
  wipe "$D_RUN"
}

# -------------------------------------------------------------------------------------------

[ $# -eq 2 ] || usage
case "$1" in podman | docker26) ;; *) usage ;; esac
case "$2" in
  up) "$1_up" ;;
  down) "$1_down"; rmdir "$RUN_BASE" "$DATA_BASE" 2>/dev/null || true ;;
  host) "$1_dirs"; [ "$1" = podman ] && echo "$P_HOST" || echo "$D_HOST" ;;
  *) usage ;;
esac
