#!/usr/bin/env bash
# The Triton Inference Server on this host, on CPU: install | start | stop | restart | status.
#
# The standalone `tritonserver` (2.51) bundled in the nvidia-pytriton wheel, in its own venv under
# ~/.cache/footfall, serving models/ on 127.0.0.1. Only the python backend ships in that wheel, so our
# models run onnxruntime inside it (the same repository runs on an NGC Triton image).
#
# Environment: FOOTFALL_TRITON_GRPC_PORT (8001), FOOTFALL_TRITON_HTTP_PORT (8000),
# FOOTFALL_TRITON_METRICS_PORT (8002), FOOTFALL_MODEL_REPOSITORY (models/), FOOTFALL_TRITON_NAME (triton:
# names the pid and log files, so tests can run a private server beside the one `make run` uses),
# FOOTFALL_TRITON_ARGS (extra server flags, e.g. --model-control-mode=explicit).
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

GRPC_PORT=${FOOTFALL_TRITON_GRPC_PORT:-8001}
HTTP_PORT=${FOOTFALL_TRITON_HTTP_PORT:-8000}
METRICS_PORT=${FOOTFALL_TRITON_METRICS_PORT:-8002}
REPOSITORY=${FOOTFALL_MODEL_REPOSITORY:-$FOOTFALL_ROOT/models}
NAME=${FOOTFALL_TRITON_NAME:-triton}
VENV=$FOOTFALL_CACHE/triton-venv
SERVER=$FOOTFALL_CACHE/tritonserver-2.51
PIDFILE=$FOOTFALL_RUN_DIR/$NAME.pid
LOGFILE=$FOOTFALL_RUN_DIR/$NAME.log

install() {
  make_venv "$VENV" "$FOOTFALL_ROOT/hack/requirements-triton.txt"
  # The same layout as the triton-cpu image (python backend stub for this interpreter included).
  [ -x "$SERVER/bin/tritonserver" ] || "$FOOTFALL_ROOT/hack/triton-assemble.sh" "$VENV" "$SERVER"
}

ready() { curl -sf "http://127.0.0.1:$HTTP_PORT/v2/health/ready" >/dev/null; }

start() {
  install
  if pid_alive "$PIDFILE" && ready; then say "already running (pid $(cat "$PIDFILE"), grpc 127.0.0.1:$GRPC_PORT)"; return 0; fi
  pid_alive "$PIDFILE" && stop
  if ready; then die "something else already answers on 127.0.0.1:$HTTP_PORT; stop it or set FOOTFALL_TRITON_HTTP_PORT"; fi
  mkdir -p "$FOOTFALL_RUN_DIR"
  local site libdir
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  libdir=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
  # The wheel's bundled libs, then this interpreter's libpython: without it the stub may load another
  # libpython 3.11 against this stdlib and model load fails ('_thread.RLock' has no '_recursion_count').
  # PATH: the stub's embedded interpreter finds the venv (its site-packages) through the venv's python on PATH.
  # The Dockerfile's triton-cpu stage sets the same LD_LIBRARY_PATH and PATH (tests/image checks it).
  # shellcheck disable=SC2086 # FOOTFALL_TRITON_ARGS is a list of flags
  LD_LIBRARY_PATH="$site/nvidia_pytriton.libs:$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  PATH="$VENV/bin:$PATH" \
  setsid "$SERVER/bin/tritonserver" --model-repository="$REPOSITORY" --backend-directory="$SERVER/backends" \
    --cache-directory="$FOOTFALL_RUN_DIR/$NAME-cache" \
    --grpc-address=127.0.0.1 --grpc-port="$GRPC_PORT" --http-address=127.0.0.1 --http-port="$HTTP_PORT" \
    --metrics-address=127.0.0.1 --metrics-port="$METRICS_PORT" --log-verbose=0 ${FOOTFALL_TRITON_ARGS:-} \
    >"$LOGFILE" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  if ! wait_for "triton (grpc 127.0.0.1:$GRPC_PORT, http :$HTTP_PORT)" "${FOOTFALL_TRITON_START_TIMEOUT:-120}" ready; then
    tail -n 40 "$LOGFILE" >&2
    stop
    die "triton did not become ready; log above ($LOGFILE)"
  fi
}

stop() {
  if pid_alive "$PIDFILE"; then
    local pid; pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped (pid $pid)"
  fi
  rm -f "$PIDFILE"
}

status() {
  if pid_alive "$PIDFILE" && ready; then echo "running pid=$(cat "$PIDFILE") grpc=127.0.0.1:$GRPC_PORT"; return 0; fi
  echo "not running"; return 1
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  *) die "usage: $0 install|start|stop|restart|status" ;;
esac
