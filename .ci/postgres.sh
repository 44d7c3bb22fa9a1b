#!/usr/bin/env bash
# Install (Debian's `postgresql` package) and start a throw-away PostgreSQL server for the test
# suite, on 127.0.0.1 only, with role `postgres` and trust authentication (loopback, CI only).
# Idempotent: a second call finds the package installed and the server running and does nothing.
# Prints the URL to export as ILO_MONITOR_TEST_POSTGRES on its last line.
#
#   PG_PORT   port to listen on (default 55432, away from a system cluster on 5432)
#   PG_DATA   data folder (default /var/tmp/ilo-monitor-postgres)
set -euo pipefail
PG_PORT="${PG_PORT:-55432}"
PG_DATA="${PG_DATA:-/var/tmp/ilo-monitor-postgres}"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Wait for a concurrent apt/dpkg instead of failing on its lock.
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 postgresql >/dev/null
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

# Our own cluster (not Debian's `main`): known role and auth, nothing to reconfigure.
if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    mkdir -p "$PG_DATA"
    chown postgres:postgres "$PG_DATA"
    chmod 700 "$PG_DATA"
    su postgres -s /bin/sh -c "'$PG_BIN/initdb' -D '$PG_DATA' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
fi
if ! su postgres -s /bin/sh -c "'$PG_BIN/pg_ctl' -D '$PG_DATA' status" >/dev/null 2>&1; then
    # Durability is pointless for a test server: fsync and synchronous_commit off make the
    # per-test CREATE DATABASE and the commits fast. Sockets in the data folder, so no
    # /var/run/postgresql is needed.
    su postgres -s /bin/sh -c "'$PG_BIN/pg_ctl' -D '$PG_DATA' -l '$PG_DATA/server.log' -w start \
        -o \"-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='$PG_DATA' \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\"" >/dev/null
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
