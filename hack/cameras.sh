#!/usr/bin/env bash
# Manage simulated RTSP cameras (hack/camera_sim.py), one process per camera, listening on 127.0.0.1 (or
# CAMERA_HOST: 10.244.0.1, the test node's pod bridge from hack/cluster.sh, for pods to reach them).
#
#   hack/cameras.sh start NAME PORT FILE [--sub-file FILE] [--user U --password-env VAR [--auth basic|digest]]
#                                                                     # no-op if running
#   hack/cameras.sh stop NAME | freeze NAME | resume NAME | restart NAME
#   hack/cameras.sh status | stop-all
#   hack/cameras.sh start-demo      # channel_1..channel_4 on ports 8554..8557 with the Intel clips
#
# Cameras answer at rtsp://HOST:PORT/cam/realmonitor?channel=1&subtype=0 (channel ignored); subtype=1 is the
# --sub-file stream (404 without one, as on a camera with its sub-stream off).
# freeze = SIGSTOP: the port stays open but nothing is sent, like a hung camera; resume = SIGCONT.
# --password-env names an environment variable holding the password, so it is in neither argv nor files;
# `restart` needs that variable set again. --auth digest offers HTTP Digest as Dahua cameras do (default basic).
# State: ${FOOTFALL_RUN_DIR:-$HOME/.cache/footfall/run}/cameras/NAME.{pid,log,conf}.
# CAMERA_READY_TIMEOUT (seconds, default 15) bounds the wait for a camera's READY line.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
run_dir="${FOOTFALL_RUN_DIR:-$HOME/.cache/footfall/run}/cameras"
ready_timeout="${CAMERA_READY_TIMEOUT:-15}"
camera_host="${CAMERA_HOST:-127.0.0.1}"
case "$camera_host" in
  127.*) host_args=() ;;
  10.244.0.1) host_args=(--allow-non-loopback) ;;  # the test node's bridge: only this machine's pods reach it
  *) echo "cameras: CAMERA_HOST must be 127.x or 10.244.0.1 (the node's pod bridge), got $camera_host" >&2; exit 2 ;;
esac
sim="$repo_root/hack/camera_sim.py"
mount="/cam/realmonitor"

die() {
  echo "cameras: $*" >&2
  exit 1
}

usage() {
  sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

check_name() {
  [[ "$1" =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad camera name '$1' (letters, digits, _ . - only)"
}

# alive PID: exists and is no zombie (an orphaned simulator is reaped by init, which may take its time).
alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z ]]
}

# pid_of NAME: the pid of NAME's simulator if it is alive (and really ours: pids get reused), else nothing.
pid_of() {
  local pid_file="$run_dir/$1.pid" pid
  [[ -f "$pid_file" ]] || return 0
  pid="$(<"$pid_file")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" \
     && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "camera_sim.py"; then
    echo "$pid"
  fi
}

state_of() {
  local pid="$1" state
  # Third field of /proc/PID/stat: T = stopped by SIGSTOP (frozen).
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  if [[ "$state" == T ]]; then echo frozen; else echo running; fi
}

url_of() {
  echo "rtsp://$camera_host:$1$mount"
}

# load_conf NAME: set port, file, sub_file, user, password_env, auth from NAME.conf (KEY=VALUE lines this script
# wrote, %q-quoted). A conf written before --auth (--sub-file) existed has no such line: basic (none).
load_conf() {
  port="" file="" sub_file="" user="" password_env="" auth=basic
  # shellcheck disable=SC1090
  source "$run_dir/$1.conf"
}

# check_password NAME PASSWORD_ENV: before anything is stopped or started.
check_password() {
  if [[ -n "$2" && -z "${!2:-}" ]]; then
    die "$1: environment variable $2 (the password) is not set"
  fi
}

# launch NAME PORT FILE SUB_FILE USER PASSWORD_ENV AUTH: start the simulator and wait for its READY line.
launch() {
  local name="$1" port="$2" file="$3" sub_file="$4" user="$5" password_env="$6" auth="$7" log pid offset deadline
  [[ -f "$file" ]] || die "$name: no such file: $file"
  local -a sub_args=()
  if [[ -n "$sub_file" ]]; then
    [[ -f "$sub_file" ]] || die "$name: no such file: $sub_file"
    sub_args=(--sub-file "$sub_file")
  fi
  check_password "$name" "$password_env"
  log="$run_dir/$name.log"
  local -a env_args=()
  if [[ -n "$user" ]]; then
    env_args=("CAMERA_SIM_USER=$user" "CAMERA_SIM_PASSWORD=${!password_env}")
  fi
  offset="$(stat -c %s "$log" 2>/dev/null || echo 0)"
  echo "--- $(date -Is) start $name port $port file $file${user:+ auth $auth}" >>"$log"
  # setsid: no SIGHUP when this terminal goes away. Not a group leader here (no job control), so setsid
  # does not fork and $! is the simulator's own pid.
  env -u CAMERA_SIM_USER -u CAMERA_SIM_PASSWORD "${env_args[@]}" \
    setsid /usr/bin/python3 "$sim" --file "$file" "${sub_args[@]}" --port "$port" --host "$camera_host" "${host_args[@]}" --auth "$auth" \
    </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$run_dir/$name.pid"
  deadline=$((SECONDS + ready_timeout))
  until tail -c "+$((offset + 1))" "$log" | grep -q '^READY '; do
    if ! alive "$pid"; then
      rm -f "$run_dir/$name.pid"
      echo "cameras: $name exited before READY; log tail ($log):" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      kill -TERM "$pid" 2>/dev/null || true
      rm -f "$run_dir/$name.pid"
      echo "cameras: $name not READY within ${ready_timeout}s; log tail ($log):" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "$name $(url_of "$port") pid $pid"
}

cmd_start() {
  (($# >= 3)) || usage
  local name="$1" port="$2" file="$3" sub_file="" user="" password_env="" auth="" pid
  shift 3
  check_name "$name"
  if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then die "bad port '$port'"; fi
  while (($#)); do
    case "$1" in
      --sub-file) sub_file="$(realpath "${2:?--sub-file needs a file}")"; shift 2 ;;
      --user) user="${2:?--user needs a value}"; shift 2 ;;
      --password-env) password_env="${2:?--password-env needs a variable name}"; shift 2 ;;
      --auth) auth="${2:?--auth needs basic or digest}"; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  if [[ -n "$user" || -n "$password_env" ]]; then
    [[ -n "$user" && -n "$password_env" ]] || die "--user and --password-env go together"
    [[ "$password_env" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad variable name '$password_env'"
  fi
  if [[ -n "$auth" ]]; then
    [[ "$auth" == basic || "$auth" == digest ]] || die "--auth must be basic or digest, not '$auth'"
    [[ -n "$user" ]] || die "--auth needs --user and --password-env"
  else
    auth=basic
  fi
  [[ -f "$file" ]] || die "no such file: $file"
  file="$(realpath "$file")"
  mkdir -p "$run_dir"
  pid="$(pid_of "$name")"
  if [[ -n "$pid" ]]; then
    echo "$name already running ($(state_of "$pid")) pid $pid; see hack/cameras.sh status"
    return 0
  fi
  check_password "$name" "$password_env"
  "$repo_root/hack/install-gstreamer.sh"
  launch "$name" "$port" "$file" "$sub_file" "$user" "$password_env" "$auth"
  # Written once it works, so a failed start leaves no ghost in status; restart reads it.
  {
    printf 'port=%q\n' "$port"
    printf 'file=%q\n' "$file"
    printf 'sub_file=%q\n' "$sub_file"
    printf 'user=%q\n' "$user"
    printf 'password_env=%q\n' "$password_env"
    printf 'auth=%q\n' "$auth"
  } >"$run_dir/$name.conf"
}

cmd_stop() {
  local name="$1" pid
  check_name "$name"
  pid="$(pid_of "$name")"
  if [[ -z "$pid" ]]; then
    rm -f "$run_dir/$name.pid"
    echo "$name not running"
    return 0
  fi
  kill -TERM "$pid"
  kill -CONT "$pid" 2>/dev/null || true  # a frozen process handles SIGTERM only once continued
  for _ in $(seq 100); do
    alive "$pid" || break
    sleep 0.05
  done
  if alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$run_dir/$name.pid"
  echo "$name stopped"
}

cmd_signal() {
  local name="$1" signal="$2" verb="$3" pid
  check_name "$name"
  pid="$(pid_of "$name")"
  [[ -n "$pid" ]] || die "$name is not running"
  kill "-$signal" "$pid"
  echo "$name $verb"
}

cmd_restart() {
  local name="$1"
  check_name "$name"
  local port file sub_file user password_env auth
  [[ -f "$run_dir/$name.conf" ]] || die "$name was never started (no $run_dir/$name.conf)"
  load_conf "$name"
  check_password "$name" "$password_env"
  cmd_stop "$name"
  "$repo_root/hack/install-gstreamer.sh"
  launch "$name" "$port" "$file" "$sub_file" "$user" "$password_env" "$auth"
}

names() {
  local conf
  for conf in "$run_dir"/*.conf; do
    [[ -e "$conf" ]] || continue
    basename "$conf" .conf
  done
}

cmd_status() {
  local name pid state port file sub_file user password_env auth
  printf '%-12s %-8s %-8s %-45s %s\n' NAME STATE PID URL FILE
  while read -r name; do
    [[ -n "$name" ]] || continue
    load_conf "$name"
    pid="$(pid_of "$name")"
    if [[ -n "$pid" ]]; then state="$(state_of "$pid")"; else state=stopped pid=-; fi
    printf '%-12s %-8s %-8s %-45s %s\n' "$name" "$state" "$pid" "$(url_of "$port")" "$(basename "$file")"
  done < <(names)
}

cmd_stop_all() {
  local name
  while read -r name; do
    [[ -n "$name" ]] && cmd_stop "$name"
  done < <(names)
}

cmd_start_demo() {
  local footage="$repo_root/input/footage/intel"
  cmd_start channel_1 8554 "$footage/one-by-one-person-detection.mp4"
  cmd_start channel_2 8555 "$footage/store-aisle-detection.mp4"
  cmd_start channel_3 8556 "$footage/face-demographics-walking.mp4"
  cmd_start channel_4 8557 "$footage/head-pose-face-detection-female-and-male.mp4"
}

main() {
  (($#)) || usage
  local command="$1"
  shift
  case "$command" in
    start) cmd_start "$@" ;;
    stop) (($# == 1)) || usage; cmd_stop "$1" ;;
    freeze) (($# == 1)) || usage; cmd_signal "$1" STOP frozen ;;
    resume) (($# == 1)) || usage; cmd_signal "$1" CONT resumed ;;
    restart) (($# == 1)) || usage; cmd_restart "$1" ;;
    status) cmd_status ;;
    stop-all) cmd_stop_all ;;
    start-demo) cmd_start_demo ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
