#!/usr/bin/env bash
# pgbouncer for `make stress` only: transaction pooling on 127.0.0.1:6433 in front of the stress
# cluster (5433). Debian's package; its own config, pid and log under /tmp/botdesk-stress-pgbouncer, so
# Debian's own pgbouncer service (6432) is never touched.
#   scripts/stress_pgbouncer.sh start|stop|restart
# restart is a hard one (SIGTERM: open client connections are cut), as a crash or redeploy would be.
set -euo pipefail
PGB_PORT="${STRESS_PGBOUNCER_PORT:-6433}"
PG_PORT="${STRESS_PG_PORT:-5433}"
DIR=/tmp/botdesk-stress-pgbouncer
PIDFILE="$DIR/pgbouncer.pid"
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

configure() {
    if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
        SUDO=""; [ "$(id -u)" != "0" ] && SUDO="sudo"
        # The package's service is not started here (no init); only our own instance runs.
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq pgbouncer >/dev/null
    fi
    mkdir -p "$DIR"
    cat > "$DIR/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=${PG_PORT}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PGB_PORT}
unix_socket_dir =
auth_type = trust
auth_file = ${DIR}/userlist.txt
pool_mode = transaction
; what Botdesk needs from a pooler in transaction mode: nothing session-level (README, Production)
max_client_conn = 400
default_pool_size = 20
reserve_pool_size = 5
server_reset_query =
server_check_delay = 5
server_login_retry = 1
query_wait_timeout = 30
admin_users = postgres
logfile = ${DIR}/pgbouncer.log
pidfile = ${PIDFILE}
INI
    printf '"botdesk" ""\n"postgres" ""\n' > "$DIR/userlist.txt"
    chown -R postgres:postgres "$DIR" 2>/dev/null || true
}

start() {
    configure
    if [ "$(id -u)" = "0" ]; then
        /usr/sbin/pgbouncer -d -u postgres "$DIR/pgbouncer.ini"
    else
        /usr/sbin/pgbouncer -d "$DIR/pgbouncer.ini"
    fi
    for _ in $(seq 1 50); do port_open "$PGB_PORT" && return 0; sleep 0.1; done
    echo "pgbouncer did not start; see $DIR/pgbouncer.log" >&2
    return 1
}

stop() {
    if [ -f "$PIDFILE" ]; then
        kill -TERM "$(cat "$PIDFILE")" 2>/dev/null || true
        for _ in $(seq 1 50); do port_open "$PGB_PORT" || break; sleep 0.1; done
        rm -f "$PIDFILE"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    *) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
