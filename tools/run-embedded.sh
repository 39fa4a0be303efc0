#!/usr/bin/env bash
# Install blockstore into .venv and run every service in one process on the
# embedded defaults: SQLite, in-process messaging, file-backed volumes under
# ~/.local/share/blockstore, API on http://127.0.0.1:8776.
# It also installs python-cinderclient there, so .venv/bin/cinder is the
# client the README's quick start uses.
# Arguments are passed to blockstore-all (e.g. --config-file my.conf).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e . \
    'python-cinderclient>=9.0,<10'

exec .venv/bin/blockstore-all "$@"
