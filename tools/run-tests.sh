#!/usr/bin/env bash
# Set up this machine, install blockstore with its test dependencies into
# .venv and run every test tier (unit, functional, the host and kernel e2e tiers).
#
# The set-up is tools/setup-test-env.sh: as root it installs the Debian
# packages the tiers need and starts MariaDB, PostgreSQL, RabbitMQ and Redis
# when they are down; otherwise it prints what to install and start, and the
# tests that need them skip saying so. .ci/run runs this same script.
# Extra arguments are passed to pytest (e.g. -k states, -x, -m 'not functional').
# BLOCKSTORE_TEST_TIMEOUT=SECONDS stops pytest after that long (exit status 124).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-test-env.sh

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

guard=()
if [ -n "${BLOCKSTORE_TEST_TIMEOUT:-}" ]; then
    guard=(timeout -k 30 "$BLOCKSTORE_TEST_TIMEOUT")
fi
rc=0
${guard[@]+"${guard[@]}"} .venv/bin/python -m pytest -p no:cacheprovider --timeout=600 -q -rs \
    tests "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "run-tests.sh: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$rc"
