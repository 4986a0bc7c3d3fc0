#!/usr/bin/env bash
# PostgreSQL and Redis for tests and `make run`: up | status.
#
# Uses the servers at FOOTFALL_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/test) and
# FOOTFALL_REDIS_URL (redis://127.0.0.1:6379/0). A local one that is down is started; one that is not
# installed is installed from Debian (a fresh machine of another kind). A remote one is only checked.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "$0")/lib.sh"

DATABASE_URL=${FOOTFALL_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}
REDIS_URL=${FOOTFALL_REDIS_URL:-redis://127.0.0.1:6379/0}

# url_part URL FIELD : host, port, user or db of a postgresql:// or redis:// URL (no password handling).
url_part() {
  local rest=${1#*://} field=$2
  local userinfo="" hostport path
  [[ $rest == *@* ]] && { userinfo=${rest%%@*}; rest=${rest#*@}; }
  hostport=${rest%%/*}; path=${rest#"$hostport"}; path=${path#/}; path=${path%%\?*}
  case $field in
    host) echo "${hostport%%:*}" ;;
    port) [[ $hostport == *:* ]] && echo "${hostport##*:}" || echo "" ;;
    user) echo "${userinfo%%:*}" ;;
    db) echo "$path" ;;
  esac
}

is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

postgres_up() {
  local host port user db
  host=$(url_part "$DATABASE_URL" host); port=$(url_part "$DATABASE_URL" port); port=${port:-5432}
  user=$(url_part "$DATABASE_URL" user); user=${user:-postgres}; db=$(url_part "$DATABASE_URL" db); db=${db:-test}
  if ! command -v pg_isready >/dev/null || ! pg_isready -q -h "$host" -p "$port"; then
    is_local "$host" || die "PostgreSQL at $host:$port is not reachable (remote: not started from here)"
    local installed_now=0
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql; installed_now=1; fi
    local version; version=$(ls /etc/postgresql | sort -V | tail -n 1)
    if [ "$installed_now" = 1 ]; then
      # A cluster we just created: let local test connections in without a password, as on CI machines.
      sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "/etc/postgresql/$version/main/pg_hba.conf"
    fi
    say "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for "PostgreSQL $host:$port" 30 pg_isready -q -h "$host" -p "$port" || die "PostgreSQL did not start"
  fi
  if ! psql -h "$host" -p "$port" -U "$user" -d "$db" -Atqc 'select 1' >/dev/null 2>&1; then
    say "creating database $db"
    createdb -h "$host" -p "$port" -U "$user" "$db" || die "cannot create database $db as $user on $host:$port"
  fi
  say "PostgreSQL ok ($host:$port/$db)"
}

redis_up() {
  local host port
  host=$(url_part "$REDIS_URL" host); port=$(url_part "$REDIS_URL" port); port=${port:-6379}
  if command -v redis-cli >/dev/null && [ "$(redis-cli -h "$host" -p "$port" ping 2>/dev/null)" = PONG ]; then
    say "Redis ok ($host:$port)"; return 0
  fi
  is_local "$host" || die "Redis at $host:$port is not reachable (remote: not started from here)"
  command -v redis-server >/dev/null || apt_install redis-server redis-tools
  say "starting Redis on $host:$port"
  redis-server --daemonize yes --bind "$host" --port "$port" --save "" --appendonly no >/dev/null
  wait_for "Redis $host:$port" 15 sh -c "[ \"\$(redis-cli -h $host -p $port ping)\" = PONG ]" || die "Redis did not start"
}

case "${1:-up}" in
  up) postgres_up; redis_up ;;
  postgres) postgres_up ;;
  redis) redis_up ;;
  *) die "usage: $0 up|postgres|redis" ;;
esac
