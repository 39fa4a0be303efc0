#!/bin/bash
# build.sh: the kernel tier's guest image (a kernel and an initramfs), cached.
#
# Downloads Debian's stock linux-image-<ver>-amd64 with `apt-get download` (never installs it),
# extracts the uncompressed vmlinux (QEMU boots it through PVH: no slow decompression under TCG)
# and packs an initramfs of busybox-static + the modules the tier needs + init.sh/stage2.sh.
# The guest has no root image: init.sh mounts the host's / read-only over 9p (see run.sh).
#
# Cache: $BLOCKSTORE_GUEST_CACHE (default /var/cache/blockstore-guest)/<kernel version>-<hash of
# init.sh, stage2.sh and the module list>/{vmlinux,initramfs.gz}; reused when present.
# Prints the image directory on stdout (logs go to stderr). Needs root only for the cache dir.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${BLOCKSTORE_GUEST_CACHE:-/var/cache/blockstore-guest}
META=linux-image-amd64        # the generic flavour: the -cloud- one has no 9p
MODS="virtio_pci virtio_net virtio_blk 9p 9pnet_virtio overlay loop configfs
      dm_mod dm_thin_pool dm_snapshot dm_bufio dm_persistent_data
      target_core_mod target_core_iblock target_core_file iscsi_target_mod
      iscsi_tcp libiscsi scsi_transport_iscsi sd_mod crc32c_generic"

log() { echo "[guest build $(date +%T)] $*" >&2; }
for tool in apt-get apt-cache dpkg-deb depmod modprobe busybox python3 gzip flock; do
    command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 2; }
done
if ldd "$(command -v busybox)" >/dev/null 2>&1; then log "busybox is not static (install busybox-static)"; exit 2; fi

KPKG=$(apt-cache depends "$META" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$KPKG" ] || { log "cannot resolve $META (run apt-get update)"; exit 2; }
KVER=${KPKG#linux-image-}
KEY=$(cat "$HERE/init.sh" "$HERE/stage2.sh" <(echo "$MODS") | sha256sum | cut -c1-12)
OUT="$CACHE/$KVER-$KEY"
if [ -s "$OUT/vmlinux" ] && [ -s "$OUT/initramfs.gz" ]; then echo "$OUT"; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 600 9 || { log "cache lock busy"; exit 1; }
if [ -s "$OUT/vmlinux" ] && [ -s "$OUT/initramfs.gz" ]; then echo "$OUT"; exit 0; fi   # built meanwhile

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bs-guest-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"     # apt-get download drops to the _apt user
t0=$SECONDS
log "downloading $KPKG"
(cd "$WORK" && apt-get download -qq "$KPKG" >&2)
dpkg-deb -x "$WORK/${KPKG}"_*.deb "$WORK/k"
mkdir -p "$WORK/out"
python3 - "$WORK/k/boot/vmlinuz-$KVER" "$WORK/out/vmlinux" <<'PY'
import lzma, sys
blob = open(sys.argv[1], 'rb').read()
start = blob.find(b'\xfd7zXZ\x00')
if start < 0:
    sys.exit('no xz stream in the bzImage')
elf = lzma.LZMADecompressor().decompress(blob[start:])
if not elf.startswith(b'\x7fELF'):
    sys.exit('the bzImage payload is not an ELF vmlinux')
open(sys.argv[2], 'wb').write(elf)
PY

IR="$WORK/ir"
mkdir -p "$IR"/{bin,dev,proc,sys,lib/modules/"$KVER"}
cp "$(command -v busybox)" "$IR/bin/busybox"
depmod -b "$WORK/k" "$KVER"
# shellcheck disable=SC2086
for m in $MODS; do modprobe -d "$WORK/k" -S "$KVER" --show-depends "$m"; done |
    awk '$1 == "insmod" {print $2}' | sort -u | while read -r ko; do
        rel=${ko#"$WORK/k/"}; mkdir -p "$IR/$(dirname "$rel")"; cp "$ko" "$IR/$rel"
    done
cp "$WORK/k/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$IR/lib/modules/$KVER/"
depmod -b "$IR" "$KVER"
install -m 0755 "$HERE/init.sh" "$IR/init"
install -m 0755 "$HERE/stage2.sh" "$IR/stage2"
(cd "$IR" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 > "$WORK/out/initramfs.gz"
echo "$KVER" > "$WORK/out/kernel.version"
rm -rf "$OUT"; mv "$WORK/out" "$OUT"
log "built $OUT in $((SECONDS - t0)) s ($(find "$IR" -name '*.ko*' | wc -l) modules)"
echo "$OUT"
