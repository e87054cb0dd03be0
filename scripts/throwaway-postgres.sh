#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite: a fresh cluster in a temporary directory,
# listening on 127.0.0.1 only, trust authentication, no durability (fsync off). Never use it for data.
#
#   eval "$(bash scripts/throwaway-postgres.sh start)"   # exports TEST_POSTGRES_URL and THROWAWAY_PG_DIR
#   make test
#   bash scripts/throwaway-postgres.sh stop "$THROWAWAY_PG_DIR"
#
# Commands:
#   start        create and start a cluster; print `export ...` lines on stdout (progress goes to stderr).
#                If a cluster started by this script is already running on the port, print its exports again.
#   stop [DIR]   stop the cluster in DIR and delete DIR. Without DIR: the one running on the port.
#   status       say whether a cluster started by this script is running on the port.
#
# Environment: PGPORT_TEST (default 55432) is the TCP port.
# As root, the server runs as the `postgres` OS user (created if missing), because initdb refuses root.
set -euo pipefail

PORT="${PGPORT_TEST:-55432}"
# runuser and useradd live in sbin, which a non-login root shell may not have on PATH.
PATH="$PATH:/usr/sbin:/sbin"
PG_USER=postgres
MARKER=.throwaway-postgres
# Remembers the directory of the cluster running on PORT, so `start` twice and `stop` without DIR work.
POINTER="${TMPDIR:-/tmp}/throwaway-postgres-${PORT}.dir"

log() { printf 'throwaway-postgres: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[[ "$PORT" =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "PGPORT_TEST must be a TCP port number, got '$PORT'"

# The PostgreSQL server binaries: on PATH, or where Debian's packages put them.
find_bin() {
    local name=$1 found
    if found=$(command -v "$name" 2>/dev/null); then
        printf '%s\n' "$found"
        return 0
    fi
    found=$(ls -1d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n "$found" ]] || return 1
    printf '%s\n' "$found"
}

load_binaries() {
    INITDB=$(find_bin initdb) ||
        die "initdb not found. Install the PostgreSQL server (Debian: apt-get install postgresql) and put its bin directory on PATH."
    PG_CTL=$(find_bin pg_ctl) || die "pg_ctl not found next to initdb ($INITDB)."
    PG_ISREADY=$(find_bin pg_isready || true)
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

ensure_pg_user() {
    is_root || return 0
    if ! id "$PG_USER" >/dev/null 2>&1; then
        log "creating system user '$PG_USER'"
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER" ||
            die "could not create the '$PG_USER' OS user"
    fi
    command -v runuser >/dev/null || die "runuser not found (util-linux); it is needed to run PostgreSQL as '$PG_USER'"
}

# Run a command as the cluster's owner: `postgres` when we are root, otherwise ourselves.
# From the temporary directory, so the server never inherits a working directory it cannot read.
as_owner() {
    local dir=$1
    shift
    if is_root; then
        (cd "$dir" && runuser -u "$PG_USER" -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

url_for() { printf 'postgresql://postgres@127.0.0.1:%s/postgres' "$1"; }

print_exports() {
    local dir=$1 port
    port=$(sed -n 's/^port=//p' "$dir/$MARKER")
    printf 'export TEST_POSTGRES_URL=%s\n' "$(url_for "$port")"
    printf 'export THROWAWAY_PG_DIR=%s\n' "$dir"
    printf '# stop it with: bash scripts/throwaway-postgres.sh stop %s\n' "$dir"
}

is_ours() { [[ -n "${1:-}" && -d "$1" && -f "$1/$MARKER" ]]; }

is_running() { is_ours "$1" && as_owner "$1" "$PG_CTL" -D "$1/data" status >/dev/null 2>&1; }

port_answers() {
    if [[ -n "$PG_ISREADY" ]]; then
        # 0 = accepting, 1 = rejecting (starting up): both mean a server is there; 2 = nothing answers.
        local rc=0
        "$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT" -t 2 >/dev/null 2>&1 || rc=$?
        [[ $rc -eq 0 || $rc -eq 1 ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
    fi
}

cmd_start() {
    load_binaries

    local existing=""
    [[ -f "$POINTER" ]] && existing=$(cat "$POINTER")
    if is_running "$existing"; then
        log "already running on 127.0.0.1:$PORT (data in $existing)"
        print_exports "$existing"
        return 0
    fi
    rm -f "$POINTER"
    port_answers && die "something already listens on 127.0.0.1:$PORT; stop it or choose another port with PGPORT_TEST=..."

    ensure_pg_user

    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/throwaway-postgres.XXXXXX")
    # Until the server is up, any failure removes what was made.
    CREATED_DIR=$dir
    trap 'rm -rf "$CREATED_DIR"' EXIT
    printf 'port=%s\ncreated=%s\n' "$PORT" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dir/$MARKER"
    if is_root; then
        chown "$PG_USER": "$dir"
        runuser -u "$PG_USER" -- test -w "$dir" ||
            die "user '$PG_USER' cannot write $dir (is TMPDIR under a private directory?)"
    fi

    log "initdb in $dir/data"
    as_owner "$dir" "$INITDB" -D "$dir/data" -A trust -U postgres --no-sync --encoding=UTF8 --locale=C \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        die "initdb failed"
    }

    # Speed over safety, on loopback only; the unix socket stays inside the temporary directory.
    as_owner "$dir" tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF

# --- throwaway-postgres.sh ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    log "starting on 127.0.0.1:$PORT"
    as_owner "$dir" "$PG_CTL" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null || {
        tail -n 30 "$dir/postgres.log" >&2 || true
        die "the server did not start (log above)"
    }

    if [[ -n "$PG_ISREADY" ]]; then
        local tries=0
        until "$PG_ISREADY" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres; do
            ((++tries < 60)) || {
                as_owner "$dir" "$PG_CTL" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
                die "the server started but does not accept connections on 127.0.0.1:$PORT"
            }
            sleep 0.5
        done
    fi

    trap - EXIT
    printf '%s\n' "$dir" >"$POINTER"
    log "ready: $(url_for "$PORT")"
    print_exports "$dir"
}

cmd_stop() {
    local dir=${1:-}
    if [[ -z "$dir" ]]; then
        [[ -f "$POINTER" ]] || {
            log "nothing recorded as running on port $PORT"
            return 0
        }
        dir=$(cat "$POINTER")
    fi
    dir=${dir%/}
    if [[ ! -e "$dir" ]]; then
        log "$dir is already gone"
        [[ -f "$POINTER" && "$(cat "$POINTER")" == "$dir" ]] && rm -f "$POINTER"
        return 0
    fi
    # Only ever delete a directory this script made.
    is_ours "$dir" || die "$dir was not made by this script (no $MARKER file); not touching it"

    load_binaries
    if is_running "$dir"; then
        log "stopping the server in $dir"
        as_owner "$dir" "$PG_CTL" -D "$dir/data" -m fast -w -t 30 stop >/dev/null ||
            as_owner "$dir" "$PG_CTL" -D "$dir/data" -m immediate -w stop >/dev/null ||
            die "could not stop the server in $dir"
    fi
    rm -rf "$dir"
    [[ -f "$POINTER" && "$(cat "$POINTER")" == "$dir" ]] && rm -f "$POINTER"
    log "stopped and removed $dir"
}

cmd_status() {
    load_binaries
    local dir=""
    [[ -f "$POINTER" ]] && dir=$(cat "$POINTER")
    if is_running "$dir"; then
        log "running on 127.0.0.1:$PORT (data in $dir)"
        print_exports "$dir"
    else
        log "not running on port $PORT"
        return 1
    fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop "${2:-}" ;;
status) cmd_status ;;
*) usage ;;
esac
