#!/usr/bin/env bash
# Builds and installs pgvector from Debian's own source package when the server lacks it.
# Bookworm ships no pgvector for PostgreSQL 15, so we take trixie's source package through a
# private apt configuration (only a deb-src line), leaving the system's apt sources untouched.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
EXTENSION_DIR="/usr/share/postgresql/${PG_MAJOR}/extension"
if [ -f "${EXTENSION_DIR}/vector.control" ]; then
    echo "pgvector: already installed for PostgreSQL ${PG_MAJOR}"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

echo "pgvector: installing build dependencies"
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s "postgresql-server-dev-${PG_MAJOR}" build-essential dpkg-dev >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "postgresql-server-dev-${PG_MAJOR}" build-essential dpkg-dev >/dev/null
fi

WORK_DIR="$(mktemp -d /tmp/pgvector-build.XXXXXX)"
trap 'rm -rf "${WORK_DIR}"' EXIT
APT_DIR="${WORK_DIR}/apt"
mkdir -p "${APT_DIR}/sources.list.d" "${APT_DIR}/lists/partial" "${APT_DIR}/cache/archives/partial"
echo "deb-src http://deb.debian.org/debian trixie main" > "${APT_DIR}/sources.list"
APT_OPTS=(
    -o "Dir::Etc::SourceList=${APT_DIR}/sources.list"
    -o "Dir::Etc::SourceParts=${APT_DIR}/sources.list.d"
    -o "Dir::State::Lists=${APT_DIR}/lists"
    -o "Dir::Cache=${APT_DIR}/cache"
    # The private lists live in a root-owned temp dir that the _apt sandbox user cannot read.
    -o "APT::Sandbox::User=root"
)
echo "pgvector: fetching Debian's source package"
apt-get "${APT_OPTS[@]}" update -qq
(cd "${WORK_DIR}" && apt-get "${APT_OPTS[@]}" source -qq pgvector >/dev/null)
SOURCE_DIR="$(find "${WORK_DIR}" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n1)"

echo "pgvector: building in ${SOURCE_DIR}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
# OPTFLAGS="" keeps the build portable (no -march=native), as the same disk may move between CPUs.
make -s -C "${SOURCE_DIR}" PG_CONFIG="${PG_CONFIG}" OPTFLAGS="" >/dev/null
$SUDO make -s -C "${SOURCE_DIR}" PG_CONFIG="${PG_CONFIG}" OPTFLAGS="" install >/dev/null
echo "pgvector: installed $(grep default_version "${EXTENSION_DIR}/vector.control")"
