#!/bin/bash
# run.sh: boot the kernel-tier guest (build.sh's image) and run one command in it.
#
#   run.sh [--timeout S] [--rw DIR]... [--disk SIZE] [--mem MB] [--smp N] [--image DIR] -- CMD [ARG...]
#
# The guest's root is the host's / (read-only 9p + tmpfs overlay), so CMD runs in the caller's
# directory with the caller's PATH (call interpreters by real path, e.g. .venv/bin/python).
# --rw DIR shares DIR read-write at the same path (e.g. for results). The guest gets a fresh
# sparse disk (default 8G) as /dev/vda, and a user-mode network that reaches nothing outside.
# Software emulation (TCG): /dev/kvm on this machine kind is PVM, unusable for a stock kernel.
# Exit status: CMD's; 124 on timeout; 125 if the guest died without reporting one.
# Cleanup on exit, timeout, SIGINT/SIGTERM: kills only the QEMU it started (by PID), removes
# its job directory (command, status, disk image).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=600 DISK=8G MEM=1024 SMP=2 IMAGE= RW=()
while [ $# -gt 0 ]; do
    case "$1" in
        --timeout) TIMEOUT=$2; shift 2 ;;
        --rw) RW+=("$(cd "$2" && pwd)"); shift 2 ;;
        --disk) DISK=$2; shift 2 ;;
        --mem) MEM=$2; shift 2 ;;
        --smp) SMP=$2; shift 2 ;;
        --image) IMAGE=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "run.sh: no command given" >&2; exit 2; }
[ -n "$IMAGE" ] || IMAGE=$("$HERE/build.sh")
QEMU=$(command -v qemu-system-x86_64) || { echo "run.sh: qemu-system-x86_64 missing (qemu-system-x86)" >&2; exit 2; }

JOB=$(mktemp -d "${TMPDIR:-/tmp}/bs-guest-job.XXXXXX")
QPID=
cleanup() {
    if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
        kill -TERM "$QPID" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$QPID" 2>/dev/null || true
        wait "$QPID" 2>/dev/null || true
    fi
    rm -rf "$JOB"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM HUP

{
    echo '#!/bin/bash'
    printf 'export PATH=%q\n' "$PATH"
    printf 'cd %q || exit 125\n' "$PWD"
    printf 'exec'; printf ' %q' "$@"; echo
} > "$JOB/cmd"
chmod 755 "$JOB/cmd"
SHARES=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
        -virtfs "local,path=$JOB,mount_tag=job,security_model=none,multidevs=remap")
: > "$JOB/mounts"
for i in "${!RW[@]}"; do
    SHARES+=(-virtfs "local,path=${RW[$i]},mount_tag=rw$i,security_model=none,multidevs=remap")
    echo "rw$i ${RW[$i]}" >> "$JOB/mounts"
done
truncate -s "$DISK" "$JOB/disk.img"

# Nehalem, not max: with AVX exposed glibc's memcpy is ~10x slower under TCG.
# tb-size=256: caps TCG's translation cache (QEMU's RSS). mitigations=off: ~30% faster execs.
"$QEMU" -accel tcg,thread=multi,tb-size=256 -cpu Nehalem -m "$MEM" -smp "$SMP" -no-reboot \
    -kernel "$IMAGE/vmlinux" -initrd "$IMAGE/initramfs.gz" \
    -append "console=ttyS0 quiet panic=-1 net.ifnames=0 mitigations=off" \
    -display none -serial stdio -monitor none -nodefaults \
    -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0 \
    "${SHARES[@]}" -drive "file=$JOB/disk.img,if=virtio,format=raw,cache=unsafe,discard=unmap" \
    </dev/null &
QPID=$!
deadline=$((SECONDS + TIMEOUT))
while kill -0 "$QPID" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "run.sh: guest timed out after $TIMEOUT s; stopping QEMU (pid $QPID)" >&2
        exit 124
    fi
    sleep 1
done
set +e; wait "$QPID"; qrc=$?; set -e
QPID=
if [ -s "$JOB/rc" ]; then exit "$(cat "$JOB/rc")"; fi
echo "run.sh: the guest stopped (QEMU status $qrc) without reporting an exit status" >&2
exit 125
