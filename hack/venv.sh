#!/usr/bin/env bash
# The project's own venv (.venv): Python 3.11 with footfall installed editable, plus test tools.
# Redone only when pyproject.toml changes.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

VENV=${FOOTFALL_VENV:-$FOOTFALL_ROOT/.venv}
stamp="$VENV/.footfall-pyproject"
want=$(sha256sum "$FOOTFALL_ROOT/pyproject.toml" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi
python=$(python311)
"$python" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; "$python" -m venv "$VENV"; }
say "installing footfall into $VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -e "$FOOTFALL_ROOT[test]" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "$want" > "$stamp"
