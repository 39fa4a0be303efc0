#!/usr/bin/env bash
# Install blockstore with its test dependencies into .venv and run every test.
#
# Needs MariaDB, PostgreSQL and RabbitMQ on localhost (see README.rst);
# .ci/run starts them when they are down, then runs this script.
# Extra arguments are passed to pytest (e.g. -k states, -x, -m 'not functional').
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

rc=0
.venv/bin/python -m pytest -p no:cacheprovider --timeout=600 -q -rs tests "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "run-tests.sh: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$rc"
