#!/usr/bin/env bash
# PostgreSQL for the test suite and benchmarks: a throw-away cluster on loopback.
#
#   scripts/postgres.sh install      install Debian's PostgreSQL server if it is missing
#   scripts/postgres.sh with CMD...  start a fresh cluster, run CMD with
#                                    ORDERLEDGER_TEST_PG_URL set, stop the cluster
#
# The cluster lives in a temporary directory and is removed afterwards, so runs never
# see each other's data. PostgreSQL refuses to run as root, so when we are root the
# server runs as the `postgres` system user that Debian's package creates.
set -euo pipefail

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return 0
  return 1
}

install_pg() {
  if pg_bindir >/dev/null; then return 0; fi
  echo "postgres.sh: PostgreSQL server not found; installing Debian's postgresql" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: need root to apt-get install postgresql" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  pg_bindir >/dev/null || { echo "postgres.sh: install failed" >&2; exit 1; }
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# Globals, not locals: the EXIT trap runs after with_pg has returned.
PG_BINDIR="" PG_DIR="" RUN_AS=()

stop_pg() {
  [ -n "$PG_DIR" ] || return 0
  "${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}

with_pg() {
  local bindir dir port run_as=()
  bindir=$(pg_bindir) || { echo "postgres.sh: PostgreSQL server not installed (run: scripts/postgres.sh install)" >&2; exit 1; }
  dir=$(mktemp -d /tmp/orderledger-pg.XXXXXX)
  port=$(free_port)
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    run_as=(runuser -u postgres --)
  fi
  PG_BINDIR=$bindir PG_DIR=$dir RUN_AS=("${run_as[@]}")
  trap stop_pg EXIT
  "${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # fsync stays on: the suite tests durability claims against a real server.
  "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null
  export ORDERLEDGER_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  set +e
  "$@"
  local rc=$?
  set -e
  return $rc
}

case "${1:-}" in
  install) install_pg ;;
  with) shift; with_pg "$@" ;;
  *) echo "usage: scripts/postgres.sh install | with CMD..." >&2; exit 2 ;;
esac
