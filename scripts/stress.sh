#!/usr/bin/env bash
# `make stress`: fault tests against a real stack of its own, then the long randomized history and the
# larger schemathesis run. Never touches the shared PostgreSQL (5432) or Redis (6379): it creates
#   - a PostgreSQL 15 cluster `botdesk_stress` on 127.0.0.1:5433 (trust for 127.0.0.1, pgvector),
#   - a redis-server on 127.0.0.1:6380,
#   - Debian's pgbouncer on 127.0.0.1:6433 in transaction pooling mode in front of the cluster
#     (scripts/stress_pgbouncer.sh), through which everything below talks to PostgreSQL,
# and the fault tests start their own gunicorn, Celery worker and Celery beat against them.
#   STRESS_POOLER=none talks to the cluster directly instead (no pgbouncer).
# Everything listens on loopback; the cluster and Redis are stopped at the end.
#   STRESS_HISTORY_SECONDS (120), STRESS_SCHEMATHESIS_EXAMPLES (25) tune the long runs;
#   STRESS_PARTS=faults or STRESS_PARTS=long runs one half only.
set -euo pipefail
cd "$(dirname "$0")/.."
STARTED=$(date +%s)

PG_VERSION=15
CLUSTER=botdesk_stress
PG_PORT=5433
REDIS_PORT=6380
REDIS_PIDFILE=/tmp/botdesk-stress-redis.pid
DB=botdesk_stress
POOLER="${STRESS_POOLER:-pgbouncer}"
PGBOUNCER_PORT=6433
DIRECT_DATABASE_URL="postgres://botdesk:botdesk@127.0.0.1:${PG_PORT}/${DB}"
if [ "$POOLER" = "pgbouncer" ]; then
    export STRESS_DATABASE_URL="postgres://botdesk:botdesk@127.0.0.1:${PGBOUNCER_PORT}/${DB}"
    export STRESS_DATABASE_POOLER=pgbouncer
else
    export STRESS_DATABASE_URL="$DIRECT_DATABASE_URL"
    export STRESS_DATABASE_POOLER=""
fi
export STRESS_BROKER_URL="redis://127.0.0.1:${REDIS_PORT}/0"

step() { printf '\n==> %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

cleanup() {
    STRESS_PGBOUNCER_PORT="$PGBOUNCER_PORT" STRESS_PG_PORT="$PG_PORT" bash scripts/stress_pgbouncer.sh stop || true
    if [ -f "$REDIS_PIDFILE" ]; then kill "$(cat "$REDIS_PIDFILE")" 2>/dev/null || true; rm -f "$REDIS_PIDFILE"; fi
    pg_ctlcluster "$PG_VERSION" "$CLUSTER" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "PostgreSQL ${PG_VERSION} cluster ${CLUSTER} on 127.0.0.1:${PG_PORT}"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "${PG_VERSION} ${CLUSTER}"; then
    pg_createcluster "$PG_VERSION" "$CLUSTER" --port "$PG_PORT" -- --auth-local=trust >/dev/null
fi
HBA="/etc/postgresql/${PG_VERSION}/${CLUSTER}/pg_hba.conf"
if ! grep -q "botdesk-stress trust" "$HBA"; then
    sed -i "1i host all all 127.0.0.1/32 trust # botdesk-stress trust" "$HBA"
fi
pg_ctlcluster "$PG_VERSION" "$CLUSTER" start 2>/dev/null || pg_ctlcluster "$PG_VERSION" "$CLUSTER" reload
for _ in $(seq 1 30); do port_open 127.0.0.1 "$PG_PORT" && break; sleep 1; done
psql_admin() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
psql_admin -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'botdesk') THEN CREATE ROLE botdesk LOGIN CREATEDB PASSWORD 'botdesk'; END IF; END \$\$;"
psql_admin -d postgres -c "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)"
psql_admin -d postgres -c "CREATE DATABASE ${DB} OWNER botdesk"
for database in "$DB" template1; do psql_admin -d "$database" -c "CREATE EXTENSION IF NOT EXISTS vector"; done

step "Redis on 127.0.0.1:${REDIS_PORT}"
if ! port_open 127.0.0.1 "$REDIS_PORT"; then
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --pidfile "$REDIS_PIDFILE" --logfile /tmp/botdesk-stress-redis.log
    for _ in $(seq 1 10); do port_open 127.0.0.1 "$REDIS_PORT" && break; sleep 0.5; done
fi

step "Migrations on ${DB} (directly), and its timeouts as database defaults (for pooled sessions)"
DATABASE_URL="$DIRECT_DATABASE_URL" CELERY_BROKER_URL="$STRESS_BROKER_URL" \
    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python manage.py migrate --noinput -v 0
DATABASE_URL="$DIRECT_DATABASE_URL" DJANGO_SETTINGS_MODULE=config.settings.local \
    .venv/bin/python manage.py db_timeouts

if [ "$POOLER" = "pgbouncer" ]; then
    step "pgbouncer (transaction pooling) on 127.0.0.1:${PGBOUNCER_PORT} in front of ${PG_PORT}"
    STRESS_PGBOUNCER_PORT="$PGBOUNCER_PORT" STRESS_PG_PORT="$PG_PORT" bash scripts/stress_pgbouncer.sh restart
    /usr/sbin/pgbouncer --version | head -n1
fi

STATUS=0
PARTS="${STRESS_PARTS:-faults,long}"
if [[ "$PARTS" == *faults* ]]; then
step "Fault tests (gunicorn + Celery worker + beat on the stress cluster)"
BOTDESK_FAULTS=1 DATABASE_URL="$STRESS_DATABASE_URL" DATABASE_POOLER="$STRESS_DATABASE_POOLER" \
    DJANGO_SETTINGS_MODULE=config.settings.test \
    .venv/bin/pytest tests/faults -p no:randomly -q -s --timeout=900 || STATUS=1
fi

if [[ "$PARTS" == *long* ]]; then
step "Long randomized history and larger schemathesis run (test database on the stress cluster)"
RANDOM_HISTORY_SECONDS="${STRESS_HISTORY_SECONDS:-120}" RANDOM_HISTORY_CLIENTS=8 \
    SCHEMATHESIS_MAX_EXAMPLES="${STRESS_SCHEMATHESIS_EXAMPLES:-25}" SCHEMATHESIS_PHASES=examples,coverage,fuzzing \
    DATABASE_URL="$STRESS_DATABASE_URL" DATABASE_POOLER="$STRESS_DATABASE_POOLER" \
    CELERY_BROKER_URL="$STRESS_BROKER_URL" DJANGO_SETTINGS_MODULE=config.settings.test \
    .venv/bin/pytest tests/stress -p no:randomly -q -s --timeout=1800 --create-db --reuse-db || STATUS=1
# (--reuse-db: the test database is not dropped at the end, which pgbouncer's pooled server sessions
# would block; --create-db makes it afresh each run.)
fi

echo
echo "make stress: $(( $(date +%s) - STARTED )) s, exit ${STATUS}"
exit "$STATUS"
