#!/bin/bash
# Entry point of the test services image (see services.Dockerfile).
set -euo pipefail
if [ "${1:-}" = postgres ]; then
  : "${PGDATA:=/var/lib/postgresql/data}"
  as_postgres=()
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 0700 "$PGDATA"
    as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups)
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    "${as_postgres[@]}" initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$POSTGRES_PASSWORD_FILE" --auth=scram-sha-256 >/dev/null
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.auto.conf"
    echo "CREATE DATABASE \"$POSTGRES_DB\"" | "${as_postgres[@]}" postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  exec "${as_postgres[@]}" "$@" -D "$PGDATA"
fi
exec "$@"
