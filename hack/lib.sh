# shellcheck shell=bash
# Shared helpers for hack/ scripts. Source it; it defines paths and small functions, and runs nothing.

FOOTFALL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FOOTFALL_CACHE=${FOOTFALL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/footfall}
FOOTFALL_RUN_DIR=${FOOTFALL_RUN_DIR:-$FOOTFALL_CACHE/run}
export FOOTFALL_ROOT FOOTFALL_CACHE FOOTFALL_RUN_DIR

say() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Root runs apt directly; anyone else goes through sudo (a developer laptop).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing from Debian: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Python 3.11 interpreter venvs are built from: one on PATH (pyenv, deadsnakes) or Debian 12's own.
python311() {
  local candidate
  for candidate in "${FOOTFALL_PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  apt_install python3 python3-venv python3-dev
  command -v python3
}

# make_venv DIR REQUIREMENTS... : create DIR with pip-installed requirements, redone only when they change.
make_venv() {
  local dir=$1; shift
  local stamp="$dir/.footfall-requirements" want
  want=$(cat "$@")
  if [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  local python; python=$(python311)
  "$python" -m venv "$dir" 2>/dev/null || { apt_install python3-venv; "$python" -m venv "$dir"; }
  say "installing into $dir"
  "$dir/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  local args=(); for req in "$@"; do args+=(-r "$req"); done
  "$dir/bin/pip" install -q --disable-pip-version-check "${args[@]}" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  printf '%s' "$want" > "$stamp"
}

# wait_for DESCRIPTION TIMEOUT_S COMMAND... : poll COMMAND until it succeeds.
wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.3
  done
  say "$what ready"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
