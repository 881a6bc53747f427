#!/usr/bin/env bash
# start: creates a throwaway PostgreSQL cluster on 127.0.0.1 and a free port, and prints the shell
#        exports of its URL (JOBS_API_TEST_DATABASE_URL) and data directory (JOBS_API_TEST_PGDATA).
# stop DIR: stops that cluster and removes it.
set -euo pipefail
bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")

# PostgreSQL refuses to run as root: run it as the postgres user when we are root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/jobs-api-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
    # A default zone other than UTC, as on many real clusters: the server must not depend on the default.
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=200 -c timezone=America/New_York" start >/dev/null
    echo "export JOBS_API_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
    echo "export JOBS_API_TEST_PGDATA=$dir"
    ;;
  stop)
    as_pg "$bin/pg_ctl" -D "$2/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$2"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
