#!/usr/bin/env bash
# Makes sure the real servers the test suite uses are there: PostgreSQL on 127.0.0.1:5432 (trust auth for role
# postgres, database `test`) and Redis on 127.0.0.1:6379. A server that already answers is left exactly as it is;
# otherwise it is installed from Debian's packages (as root) and started. Idempotent.
# Called by `pnpm test` (scripts/run-tests.mjs) when either server is missing, and by .ci/run before the tests.
# Set TEST_DATABASE_URL / TEST_REDIS_URL to use servers managed elsewhere; this script then leaves that one alone.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
export DEBIAN_FRONTEND=noninteractive
export PGCONNECT_TIMEOUT=5

log() { printf '[services %4ss] %s\n' "$SECONDS" "$*"; }
run() { log "+ $*"; "$@"; }
die() { log "ERROR: $*" >&2; exit 1; }


APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  if [ "$APT_UPDATED" = 0 ]; then
    run apt-get update
    APT_UPDATED=1
  fi
  run apt-get install -y --no-install-recommends "$@"
}

# --- probes (no side effects) -------------------------------------------------------------------------------------
pg_answers() { pg_isready -h "$PG_HOST" -p "$PG_PORT" -t 5 >/dev/null 2>&1; }
pg_login() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -XtAqc 'SELECT 1' >/dev/null 2>&1; }
pg_usable() { pg_answers && pg_login; }
# Redis: send PING over bash's /dev/tcp, expect +PONG (no redis-cli needed).
redis_pong() {
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r line <&3
    [[ $line == +PONG* ]]' redis-probe "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null
}
# Retries a probe a few times, so a busy server is not mistaken for a missing one.
probe_retry() {
  local i
  for i in 1 2 3; do
    "$@" && return 0
    sleep 1
  done
  return 1
}
wait_for() { # seconds probe...
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 1
  done
}

# --- PostgreSQL ---------------------------------------------------------------------------------------------------
start_local_postgres() {
  local ver='' cluster='' conf hba status tmp listen
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null; then
    log "no PostgreSQL server installed"
    apt_install postgresql postgresql-client
  fi
  # The cluster to use: one already configured for port 5432, else `main` of the newest installed server.
  read -r ver cluster < <(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2 }' | sort -V | tail -n 1) || true
  if [ -z "$ver" ]; then
    cluster=main
    ver=$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | awk -F/ '{ print $5 }' | sort -V | tail -n 1 || true)
    [ -n "$ver" ] || die "no PostgreSQL server binaries found after install"
    if [ -d "/etc/postgresql/$ver/$cluster" ]; then
      run pg_conftool "$ver" "$cluster" set port "$PG_PORT"
    else
      run pg_createcluster --port "$PG_PORT" "$ver" "$cluster"
    fi
  fi
  conf=/etc/postgresql/$ver/$cluster
  log "using cluster $ver/$cluster ($conf)"

  # Listen on loopback. Debian's default (unset) is 'localhost'; only an explicit setting without it is changed.
  listen=$(pg_conftool -s "$ver" "$cluster" show listen_addresses 2>/dev/null || true)
  if [ -n "$listen" ] && ! [[ $listen =~ (localhost|127\.0\.0\.1|\*) ]]; then
    run pg_conftool "$ver" "$cluster" set listen_addresses "localhost"
  fi

  # Trust local and loopback connections (first matching line wins, so prepend). Test machines only.
  hba=$conf/pg_hba.conf
  if ! grep -q '^# clawd402-ci trust' "$hba"; then
    log "prepending trust rules for local and loopback connections to $hba"
    tmp=$(mktemp)
    {
      echo '# clawd402-ci trust: test machine, trust local socket and loopback TCP connections'
      echo 'local   all  all                 trust'
      echo 'host    all  all  127.0.0.1/32   trust'
      echo 'host    all  all  ::1/128        trust'
      cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba" # keeps the file's owner and mode
    rm -f "$tmp"
  fi

  status=$(pg_lsclusters -h | awk -v v="$ver" -v c="$cluster" '$1 == v && $2 == c { print $4 }')
  if [ "$status" = online ]; then
    run pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" restart
  else
    run pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start
  fi
  if ! wait_for 30 pg_usable; then
    tail -n 30 "/var/log/postgresql/postgresql-$ver-$cluster.log" >&2 || true
    die "PostgreSQL $ver/$cluster does not accept role postgres on $PG_HOST:$PG_PORT"
  fi
}

ensure_postgres() {
  if [ -n "${TEST_DATABASE_URL:-}" ]; then
    log "TEST_DATABASE_URL is set: not managing a local PostgreSQL"
    return
  fi
  if ! command -v psql >/dev/null || ! command -v pg_isready >/dev/null; then
    apt_install postgresql-client
  fi
  if probe_retry pg_usable; then
    log "PostgreSQL answers on $PG_HOST:$PG_PORT and role postgres logs in: leaving it as it is"
  else
    log "PostgreSQL is not usable on $PG_HOST:$PG_PORT; setting up a local cluster"
    start_local_postgres
  fi
  if [ "$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -XtAqc "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]; then
    run psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Xqc 'CREATE DATABASE test'
  fi
  log "PostgreSQL ready: $(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d test -XtAqc 'SHOW server_version')"
}

# --- Redis --------------------------------------------------------------------------------------------------------
ensure_redis() {
  if [ -n "${TEST_REDIS_URL:-}" ]; then
    log "TEST_REDIS_URL is set: not managing a local Redis"
    return
  fi
  if probe_retry redis_pong; then
    log "Redis answers PING on $REDIS_HOST:$REDIS_PORT: leaving it as it is"
    return
  fi
  log "Redis does not answer on $REDIS_HOST:$REDIS_PORT"
  command -v redis-server >/dev/null || apt_install redis-server
  # Debian's package may have started its own server during the install.
  if ! redis_pong; then
    run redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no --dir /tmp
  fi
  wait_for 15 redis_pong || die "Redis does not answer PING on $REDIS_HOST:$REDIS_PORT"
  log "Redis ready"
}

ensure_postgres
ensure_redis
# The console's browser tests drive Debian's chromium (scripts/ensure-chromium.sh installs it when missing).
if [ "$(id -u)" = 0 ]; then
  run bash "$(dirname "${BASH_SOURCE[0]}")/ensure-chromium.sh"
else
  log "not root: the console's browser tests need /usr/bin/chromium (Debian's chromium package)"
fi
