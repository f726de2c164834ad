#!/usr/bin/env bash
# A Docker engine for dockstate to watch, and the test image.
#
#   scripts/engine.sh up      use the engine that answers (DOCKER_HOST or /var/run/docker.sock);
#                             if none does: install docker.io and start dockerd (root, Debian)
#   scripts/engine.sh image   build the local test image dockstate-test/busybox:latest
#   scripts/engine.sh stop    stop the dockerd that `up` started (no-op for any other engine)
#   scripts/engine.sh start   start it again (after stop)
#   scripts/engine.sh down    stop it and forget it
#
# `up` prints `started` when it has just started dockerd, `managed` when a dockerd it started
# earlier answers, `external` for any other engine; tests restart only a dockerd of ours.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUN_DIR="${DOCKSTATE_ENGINE_DIR:-/run/dockstate-engine}"
PIDFILE="$RUN_DIR/dockerd.pid"
LOG="$RUN_DIR/dockerd.log"
SOCK="/var/run/docker.sock"
TEST_IMAGE="dockstate-test/busybox:latest"

answers() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
managed() { [ -f "$RUN_DIR/managed" ]; }

start_dockerd() {
  mkdir -p "$RUN_DIR"
  # A data root left holding many containers (a benchmark killed mid-run) makes containerd
  # clean up a dead shim per container before it answers, and dockerd gives up on containerd
  # after 60 s and exits (seen). Each cleanup is kept, so starting again gets further: up to
  # 10 starts, saying so.
  local attempt
  for attempt in $(seq 1 10); do
    say "starting dockerd (log: $LOG)"
    # setsid: dockerd must not die with the shell that started it.
    setsid dockerd --host "unix://$SOCK" --pidfile "$PIDFILE" >>"$LOG" 2>&1 < /dev/null &
    local pid=$! waited=0
    while kill -0 "$pid" 2>/dev/null; do
      answers && return 0
      [ "$waited" -ge 300 ] && break
      sleep 1; waited=$((waited + 1))
    done
    say "dockerd did not answer (start $attempt of 10); its log's last lines:"
    tail -3 "$LOG" >&2
    kill -TERM "$pid" 2>/dev/null && sleep 5 || true
  done
  die "dockerd did not start (log: $LOG)"
}

stop_dockerd() {
  managed || return 0
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_up() {
  command -v docker >/dev/null || apt_install docker.io
  if [ -n "${DOCKER_HOST:-}" ] || [ -S "$SOCK" ]; then
    if answers; then
      managed && echo managed || echo external
      return 0
    fi
    [ -n "${DOCKER_HOST:-}" ] && die "DOCKER_HOST=$DOCKER_HOST does not answer"
  fi
  apt_install docker.io
  start_dockerd
  touch "$RUN_DIR/managed"
  echo started
}

cmd_image() {
  if docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then return 0; fi
  apt_install busybox-static
  say "building $TEST_IMAGE from Debian's static busybox (no registry needed)"
  local root
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/tmp" "$root/www" "$root/data"
  cp /bin/busybox "$root/bin/busybox"
  for applet in sh sleep httpd echo test cat ls touch rm true false kill wget mkdir; do
    ln -s busybox "$root/bin/$applet"
  done
  echo "dockstate test page" > "$root/www/index.html"
  tar -C "$root" -c . | docker import \
    -c 'CMD ["/bin/sh"]' -c 'LABEL org.dockstate.test=1' - "$TEST_IMAGE" >/dev/null
  rm -rf "$root"
}

case "${1:-up}" in
  up) cmd_up ;;
  image) cmd_image ;;
  stop) stop_dockerd ;;
  start) managed && { answers || start_dockerd; } ;;
  down) stop_dockerd; rm -f "$RUN_DIR/managed" ;;
  *) die "usage: scripts/engine.sh up|image|stop|start|down" ;;
esac
