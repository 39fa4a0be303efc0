#!/usr/bin/env bash
# shellcheck disable=SC2317  # the start_NAME functions are called indirectly
# Make this machine ready for every test tier; tools/run-tests.sh runs it first.
#
# 1. the Debian packages the tests use: python3-venv, the host tier's (LVM on a
#    loop device, userspace tgtd, userspace iSCSI initiators), the kernel
#    tier's (a QEMU guest booting Debian's kernel with this machine's / as root)
#    and OpenStack Swift with memcached for the backup store's functional tests
#    (tests/fixtures/swift.py starts its own on free loopback ports; nothing
#    here starts or configures them);
# 2. the servers the functional tests talk to, when their port is closed:
#    MariaDB (127.0.0.1:3306, root without a password), PostgreSQL
#    (127.0.0.1:5432, trust), RabbitMQ (127.0.0.1:5672, guest/guest) and Redis
#    (127.0.0.1:6379). Installing and configuring the servers themselves is the
#    machine's business (see README.rst); this only starts them.
#
# As root it installs what is missing and starts what is down. Otherwise it
# prints exactly what to install and start, and returns 0: the tests that need
# them then skip, naming the missing tool or server. With CI set, whatever it
# cannot do is an error (exit 1). When everything is in place it only asks dpkg
# and knocks on four ports, so it is quick.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
START=$SECONDS
log() { printf '[setup-test-env +%ss] %s\n' "$((SECONDS - START))" "$*" >&2; }

if [ "$(id -u)" -eq 0 ]; then ROOT=1; else ROOT=0; fi
TODO=()         # what a non-root run could not do: commands for root
PROBLEMS=()     # what no command here can fix (a server not installed)

todo() { TODO+=("$*"); }
problem() { PROBLEMS+=("$*"); log "ERROR: $*"; }

# ---------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------

# The host tier (tests/e2e/host): LVM metadata on a loop device, the userspace
# tgtd target and userspace iSCSI initiators (qemu's libiscsi block driver,
# iscsi-inq/iscsi-ls); xfsprogs for the file driver's point-in-time snapshot
# tests (tests/fixtures/reflink.py mounts an XFS image when /tmp has no reflinks).
HOST_TIER_PACKAGES=(lvm2 thin-provisioning-tools tgt qemu-utils qemu-block-extra libiscsi-bin
                    xfsprogs)
# The kernel tier (tests/e2e/kernel): a QEMU guest (TCG) booting Debian's stock
# kernel with this machine's / as its root, so the guest's tools are these:
# busybox-static and kmod build its initramfs, LIO via targetcli/rtslib, the
# open-iscsi kernel initiator. guest/build.sh fetches the kernel .deb with
# `apt-get download` (never installed), which needs the package lists.
KERNEL_TIER_PACKAGES=(qemu-system-x86 busybox-static kmod targetcli-fb python3-rtslib-fb
                      open-iscsi)
# The Swift backup store's functional tests (tests/functional/backup): Debian's
# Swift servers (system Python, with eventlet: never in blockstore's venv) and
# memcached, where tempauth keeps its tokens. The test fixture runs them with a
# swift.conf of its own; /etc/swift is not used.
SWIFT_PACKAGES=(swift-proxy swift-account swift-container swift-object memcached)

_apt_updated=0
apt_update_once() {
    if [ "$_apt_updated" -eq 0 ]; then
        log "apt-get update"
        apt-get update -q
        _apt_updated=1
    fi
}

ensure_packages() {
    local wanted=() missing=() pkg
    # `python3 -m venv` needs ensurepip, which Debian ships in python3-venv.
    if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        wanted+=(python3 python3-venv)
    fi
    wanted+=("${HOST_TIER_PACKAGES[@]}" "${KERNEL_TIER_PACKAGES[@]}" "${SWIFT_PACKAGES[@]}")
    for pkg in "${wanted[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    local lists=1
    apt-cache show linux-image-amd64 >/dev/null 2>&1 || lists=0
    if [ "$ROOT" -eq 0 ]; then
        [ "$lists" -eq 1 ] || todo "apt-get update   # package lists: the kernel tier downloads Debian's kernel"
        if [ "${#missing[@]}" -gt 0 ]; then
            [ "$lists" -eq 0 ] || todo "apt-get update"
            todo "apt-get install -y --no-install-recommends ${missing[*]}"
        fi
        return 0
    fi
    if [ "$lists" -eq 0 ]; then
        log "apt-get update (package lists for the kernel tier's apt-get download)"
        apt_update_once
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_update_once
        log "apt-get install ${missing[*]}"
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        log "Debian packages: all installed"
    fi
}

# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

wait_port() {  # wait_port NAME PORT: up to 60 s
    local name=$1 port=$2 deadline=$((SECONDS + 60))
    until port_open "$port"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            problem "$name is not listening on 127.0.0.1:$port after 60 s"
            return 0
        fi
        sleep 1
    done
    log "$name is listening on $port"
}

# start_NAME: print the command that starts it (as root), or print what is
# missing and fail. Called as "start_$name" below (hence SC2317, at the top).
start_mariadb() {
    if [ ! -x /usr/sbin/mariadbd ]; then
        echo "MariaDB is not installed (Debian package mariadb-server; tests connect as \
root@127.0.0.1:3306 without a password)"
        return 1
    fi
    if id mysql >/dev/null 2>&1; then
        printf 'install -d -o mysql -g mysql /run/mysqld && '
    fi
    echo "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
}

start_postgresql() {
    local version
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null \
              | sort -V | tail -n 1)
    if [ -z "$version" ]; then
        echo "PostgreSQL is not installed (Debian package postgresql; tests connect as \
postgres@127.0.0.1:5432 with trust authentication)"
        return 1
    fi
    echo "pg_ctlcluster --skip-systemctl-redirect $version main start"
}

start_rabbitmq() {
    if ! command -v rabbitmq-server >/dev/null; then
        echo "RabbitMQ is not installed (Debian package rabbitmq-server; tests use \
guest/guest on 127.0.0.1:5672)"
        return 1
    fi
    echo "rabbitmq-server -detached"
}

start_redis() {
    if ! command -v redis-server >/dev/null; then
        echo "Redis is not installed (Debian package redis-server; tests use 127.0.0.1:6379)"
        return 1
    fi
    echo "install -d /var/lib/redis /var/log/redis && redis-server --daemonize yes \
--bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no --dir /var/lib/redis \
--logfile /var/log/redis/tests.log"
}

start_servers() {
    local entry name port cmd started=()
    # Start every stopped server first, then wait for them together.
    for entry in mariadb:3306 postgresql:5432 rabbitmq:5672 redis:6379; do
        name=${entry%%:*} port=${entry##*:}
        if port_open "$port"; then
            log "$name already listening on $port"
            continue
        fi
        if ! cmd=$("start_$name"); then
            problem "$cmd"
            continue
        fi
        if [ "$ROOT" -eq 0 ]; then
            todo "$cmd   # $name, 127.0.0.1:$port"
            continue
        fi
        log "starting $name: $cmd"
        bash -c "$cmd" || problem "could not start $name ($cmd)"
        started+=("$entry")
    done
    for entry in ${started[@]+"${started[@]}"}; do
        wait_port "${entry%%:*}" "${entry##*:}"
    done
}

# ---------------------------------------------------------------------------

ensure_packages
start_servers

if [ "${#TODO[@]}" -gt 0 ]; then
    {
        echo "setup-test-env: not root, so these were not done; tests that need them will skip."
        echo "Run them as root (or run tools/run-tests.sh as root, which does them):"
        printf '    %s\n' "${TODO[@]}"
    } >&2
fi
if [ -n "${CI:-}" ] && [ $(( ${#TODO[@]} + ${#PROBLEMS[@]} )) -gt 0 ]; then
    log "ERROR: CI is set and the machine is not ready (see above)"
    exit 1
fi
log "done"
exit 0
