#!/usr/bin/env bash
# Prepares everything Botdesk needs on a Debian machine; safe and quick to run again.
#   scripts/setup.sh            virtualenv (requirements.txt, requirements-dev.txt), PostgreSQL + pgvector, Redis, database, migrations
#   scripts/setup.sh --no-migrate   the same without migrating the project database (tests make their own)
set -euo pipefail
cd "$(dirname "$0")/.."

MIGRATE=1
for arg in "$@"; do
    case "$arg" in
        --no-migrate) MIGRATE=0 ;;
        *) echo "unknown option $arg" >&2; exit 2 ;;
    esac
done

DB_NAME="${BOTDESK_DB_NAME:-botdesk}"
DB_USER="${BOTDESK_DB_USER:-botdesk}"
DB_PASSWORD="${BOTDESK_DB_PASSWORD:-botdesk}"
PG_HOST=127.0.0.1
PG_PORT=5432
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n==> %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
apt_install() {
    if ! dpkg -s "$@" >/dev/null 2>&1; then
        if [ -z "${APT_UPDATED:-}" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
        $SUDO apt-get install -y -qq "$@" >/dev/null
    fi
}

step "Python virtualenv (.venv)"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "Python 3.11 or newer is required (found $("$PYTHON" --version))" >&2; exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv 2>/dev/null || { apt_install python3-venv; "$PYTHON" -m venv .venv; }
fi
# requirements-dev.txt: the Python client (editable, from clients/python), aiogram for the example bot
# and the OpenAPI client generator that a test runs.
REQUIREMENTS_SHA="$(cat requirements.txt requirements-dev.txt clients/python/pyproject.toml | sha256sum | cut -c1-64)"
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$REQUIREMENTS_SHA" ]; then
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
    echo "$REQUIREMENTS_SHA" > .venv/.requirements.sha256
else
    echo "requirements up to date"
fi

step "PostgreSQL on ${PG_HOST}:${PG_PORT}"
command -v psql >/dev/null || apt_install postgresql-client
if port_open "$PG_HOST" "$PG_PORT"; then
    echo "using the running server"
else
    apt_install postgresql
    PG_VERSION_DIR="$(ls /etc/postgresql | sort -V | tail -n1)"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION_DIR" main start || true
    for _ in $(seq 1 30); do port_open "$PG_HOST" "$PG_PORT" && break; sleep 1; done
fi
pg_admin() {
    # Superuser access: trust over TCP where the machine allows it, else the postgres OS user's socket.
    if psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
        psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q "$@"
    else
        $SUDO runuser -u postgres -- psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -q "$@"
    fi
}
PG_MAJOR="$(pg_admin -d postgres -tAc 'show server_version_num' | cut -c1-2)"
echo "PostgreSQL ${PG_MAJOR}"

step "pgvector"
PG_MAJOR="$PG_MAJOR" bash scripts/build_pgvector.sh

step "Redis on 127.0.0.1:6379"
if port_open 127.0.0.1 6379; then
    echo "using the running server"
else
    apt_install redis-server
    $SUDO mkdir -p /var/lib/redis /var/log/redis
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir /var/lib/redis \
        --logfile /var/log/redis/botdesk.log
    for _ in $(seq 1 10); do port_open 127.0.0.1 6379 && break; sleep 1; done
fi

step "Database ${DB_NAME} (role ${DB_USER})"
pg_admin -d postgres <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${DB_USER}') THEN
    CREATE ROLE ${DB_USER} LOGIN CREATEDB PASSWORD '${DB_PASSWORD}';
  END IF;
END \$\$;
SQL
if [ "$(pg_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME}'")" != "1" ]; then
    pg_admin -d postgres -c "CREATE DATABASE ${DB_NAME} OWNER ${DB_USER}"
fi
# The web timeouts as the database's own defaults too, so a session that cannot send them as startup
# options (through pgbouncer in transaction mode, DATABASE_POOLER=pgbouncer) still has them; the same
# as `manage.py db_timeouts` (README, Production).
pg_admin -d postgres -c "ALTER DATABASE ${DB_NAME} SET statement_timeout = ${STATEMENT_TIMEOUT_MS:-30000}"
pg_admin -d postgres -c "ALTER DATABASE ${DB_NAME} SET idle_in_transaction_session_timeout = ${IDLE_IN_TRANSACTION_TIMEOUT_MS:-60000}"
# pgvector is not a trusted extension: the superuser creates it here and in template1, so the
# project role's migrations (and the test databases pytest creates from template1) find it present.
for database in "$DB_NAME" template1; do
    pg_admin -d "$database" -c "CREATE EXTENSION IF NOT EXISTS vector"
done

if [ "$MIGRATE" = "1" ]; then
    step "Migrations"
    .venv/bin/python manage.py migrate --noinput
fi
step "Chromium for the admin browser tests (Debian's chromium and chromium-driver)"
# The e2e tests drive the system browser; nothing is downloaded by Selenium.
apt_install chromium chromium-driver
echo "$(chromium --version 2>/dev/null | head -n1)"

step "gettext (compilemessages / makemessages for locale/)"
# The compiled .mo files are committed; the tools are for translators and for the catalogue test.
apt_install gettext
msgfmt --version | head -n1

echo "setup: done"
