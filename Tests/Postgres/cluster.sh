#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the tests and prints its administrator's URL.
#   cluster.sh DIR [PID]   initdb into DIR, start on a free loopback port (sockets in DIR);
#                          with PID: stop the cluster and remove DIR once that process has ended.
#   cluster.sh --stop DIR  stop it now and remove DIR.
#   cluster.sh --pause DIR stop it (fast shutdown: sessions ended), keeping DIR.
#   cluster.sh --resume DIR start it again on the same port.
# The tests' cluster runs with fsync=off (nothing in it outlives the run, and it is faster). With
# BEDSIDE_PG_DURABLE=1 it flushes to disk as a real one must, for benchmarks: SQLite, beside it, does.
# Runs the server as the postgres user when called as root (initdb refuses root).
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL is not installed (apt-get install postgresql): the PostgreSQL tests need its initdb and pg_ctl." >&2
    exit 3
fi
as=()
if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
# Runs a command holding none of this script's inherited descriptors beyond 0-2: what outlives the
# script (the server, the watchdog) must not keep open the pipe or socket by which the caller (Foundation's
# Process) learns that the script has ended.
without_inherited_fds() {
    {
        for fd in /proc/$BASHPID/fd/*; do
            n=${fd##*/}
            if [ "$n" -gt 2 ]; then eval "exec $n>&-" || true; fi
        done
    } 2>/dev/null
    "$@"
}
if [ "${1:-}" = "--stop" ]; then
    "${as[@]}" "$bin/pg_ctl" -D "$2/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$2"
    exit 0
fi
start_on_port() {
    # Chosen when the cluster was made and kept beside it, so that --resume starts it as it was.
    fsync=$(cat "$dir/fsync" 2>/dev/null || echo off)
    without_inherited_fds "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c fsync=$fsync -c max_connections=300" start >/dev/null
}
if [ "${1:-}" = "--pause" ]; then
    "${as[@]}" "$bin/pg_ctl" -D "$2/data" -m fast -w stop >/dev/null
    exit 0
fi
if [ "${1:-}" = "--resume" ]; then
    dir=$2
    start_on_port "$(cat "$dir/port")"
    exit 0
fi
dir=$1
watch=${2:-}
mkdir -p "$dir"
chmod 700 "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
if [ "${BEDSIDE_PG_DURABLE:-}" = 1 ]; then echo on; else echo off; fi > "$dir/fsync"
"${as[@]}" "$bin/initdb" -D "$dir/data" -U bedside_admin --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
for attempt in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if (start_on_port "$port"); then
        echo "$port" > "$dir/port"
        break
    fi
    [ "$attempt" = 5 ] && { cat "$dir/server.log" >&2; exit 1; }
done
if [ -n "$watch" ]; then
    (without_inherited_fds setsid bash -c "while kill -0 $watch 2>/dev/null; do sleep 1; done; $0 --stop $dir" </dev/null >/dev/null 2>&1 &)
fi
echo "postgresql://bedside_admin@127.0.0.1:$port/postgres?sslmode=disable"
