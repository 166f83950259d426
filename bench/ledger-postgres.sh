#!/usr/bin/env bash
# The ledger benchmark with its PostgreSQL rows: starts a throwaway
# PostgreSQL cluster (Debian's postgresql, default settings: fsync and
# synchronous_commit on) on a loopback port, in a directory on the
# project's disk, runs `cargo bench --bench ledger` against it, and stops
# it by its PID.
#   bench/ledger-postgres.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d "${CARGO_TARGET_DIR:-$PWD/target}/pg-bench.XXXXXX")
run=()
if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root.
  chown nobody "$dir"
  run=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${run[@]}" "$bin/initdb" -D "$dir/data" -U cadre --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${run[@]}" "$bin/postgres" -D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories="$dir" >"$dir/log" 2>&1 &
pid=$!
trap 'kill -INT $pid; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
"$bin/psql" -q -h 127.0.0.1 -p "$port" -U cadre -d postgres -c 'CREATE DATABASE bench'
CADRE_BENCH_POSTGRES="postgres://cadre@127.0.0.1:$port/bench" \
  cargo bench -p cadre-server --bench ledger
