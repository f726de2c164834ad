# Shared helpers for the scripts in this folder. Source it; it defines functions only.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: install Debian packages that are missing (needs root).
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]}: run as root, or install them first"
  say "installing ${missing[*]}"
  if [ -z "${DOCKSTATE_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null
    export DOCKSTATE_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_registry: Debian's docker-registry, the Registry API server the pull tests run on a
# loopback port of their own (never as the system service, which the package leaves stopped
# where policy-rc.d forbids starting it).
ensure_registry() {
  [ -x /usr/bin/docker-registry ] || apt_install docker-registry
}

# ensure_venv [EXTRA]: a virtualenv at .venv with dockstate installed (with [EXTRA], e.g. dev),
# reinstalled only when pyproject.toml changed.
ensure_venv() {
  local extra="${1:-}" spec="$ROOT" stamp
  [ -n "$extra" ] && spec="$ROOT[$extra]"
  stamp="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)-$extra"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating the virtualenv in .venv"
    python3 -m venv "$VENV" || { apt_install python3-venv && python3 -m venv "$VENV"; } \
      || die "could not create a virtualenv"
  fi
  if [ "$(cat "$VENV/.dockstate-stamp" 2>/dev/null)" != "$stamp" ]; then
    say "installing dockstate${extra:+ with [$extra]} into .venv"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" 2>&1 \
      | grep -v "^WARNING: Location" >&2 || true
    "$VENV/bin/python" -c "import dockstate" || die "installing dockstate failed"
    echo "$stamp" > "$VENV/.dockstate-stamp"
  fi
}

# ensure_web_packages: the web UI's npm packages, reinstalled when package-lock.json changed.
ensure_web_packages() {
  command -v npm >/dev/null || apt_install nodejs npm
  local stamp
  stamp="$(sha256sum "$ROOT/web/package-lock.json" | cut -c1-16)"
  if [ "$(cat "$ROOT/web/node_modules/.dockstate-stamp" 2>/dev/null)" != "$stamp" ]; then
    say "installing the web UI's packages (npm ci)"
    (cd "$ROOT/web" && npm ci --no-audit --no-fund --loglevel=error) >&2
    echo "$stamp" > "$ROOT/web/node_modules/.dockstate-stamp"
  fi
}

# ensure_web: the web UI's npm packages and its build in src/dockstate/web_dist, which
# `dockstate serve` serves at /.
ensure_web() {
  ensure_web_packages
  say "building the web UI"
  (cd "$ROOT/web" && npm run --silent build) >&2
}

# check_python: the linters and the type checker over the Python code (needs ensure_venv dev).
check_python() {
  say "ruff, mypy --strict"
  (
    cd "$ROOT"
    "$VENV/bin/ruff" check src tests bench
    "$VENV/bin/ruff" format --check src tests bench
    "$VENV/bin/mypy"
  )
}

# check_web: the web UI's generated types up to date, tsc and the vitest unit tests (needs
# ensure_venv and ensure_web_packages).
check_web() {
  say "web UI: generated types up to date, tsc, vitest"
  (
    cd "$ROOT/web"
    PATH="$VENV/bin:$PATH" npm run --silent check-types
    npm run --silent typecheck
    npm test --silent
  )
}
