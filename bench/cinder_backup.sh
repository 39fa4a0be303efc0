#!/usr/bin/env bash
# Create (or reuse) the separate virtual environment holding Cinder 29, used by
# bench/cinder_backup.py to measure Cinder's own chunked POSIX backup driver
# beside blockstore's. Never blockstore's venv: Cinder pins its own oslo.*,
# SQLAlchemy and eventlet versions.
#
#   bash bench/cinder_backup.sh            # prints the venv's python on success
#   BLOCKSTORE_BENCH_CINDER_VENV=/path bash bench/cinder_backup.sh
#
# Idempotent: a venv that already has cinder 29.0.0 is reused as it is.
set -euo pipefail

CINDER_VERSION=29.0.0
VENV=${BLOCKSTORE_BENCH_CINDER_VENV:-/var/tmp/blockstore-bench-cinder-venv}
PY=${PYTHON:-python3}

have_cinder() {
    [ -x "$VENV/bin/python" ] || return 1
    local v
    v=$("$VENV/bin/python" -c \
        'import importlib.metadata as m; print(m.version("cinder"))' 2>/dev/null) \
        || return 1
    [ "$v" = "$CINDER_VERSION" ] || return 1
    # The driver must import too (a half-finished install has metadata only).
    "$VENV/bin/python" -c 'import cinder.backup.drivers.posix' >/dev/null 2>&1
}

if have_cinder; then
    echo "cinder $CINDER_VERSION already in $VENV" >&2
    echo "$VENV/bin/python"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "creating venv $VENV" >&2
    "$PY" -m venv "$VENV"
fi
echo "installing cinder==$CINDER_VERSION into $VENV (takes a few minutes)" >&2
# pip warns once per package about index locations that do not exist on
# this machine; keep its other output (errors) on stderr.
pip_install() {
    "$VENV/bin/python" -m pip install --quiet "$@" 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; } >&2
    return "${PIPESTATUS[0]}"
}
pip_install --upgrade pip
pip_install "cinder==$CINDER_VERSION"

if ! have_cinder; then
    echo "cinder $CINDER_VERSION did not install into $VENV" >&2
    exit 1
fi
echo "$VENV/bin/python"
