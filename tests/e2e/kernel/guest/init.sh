#!/bin/busybox sh
# Stage 1 of the kernel-tier guest: /init of the initramfs (busybox only; execs over 9p are slow
# under TCG, so all setup happens here). Loads the modules nothing else would load (no udev),
# builds the root as an overlay: host / over 9p (read-only) + tmpfs, mounts the job share
# (run.sh's command and exit status) and the --rw shares, then switch_roots to stage2.sh.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "bs-guest: $*" >&2; echo o > /proc/sysrq-trigger; sleep 30; }
for m in virtio_pci virtio_net virtio_blk 9pnet_virtio 9p overlay configfs loop sd_mod \
         dm_mod iscsi_tcp; do
    modprobe "$m" || echo "bs-guest: modprobe $m failed" >&2
done
N=/newroot P9="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p /lower /rw $N
mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || fail "9p mount of the host root failed"
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work $N \
    || fail "overlay mount failed"
# The guest's modprobe (lvm2, targetcli, iscsiadm) finds the modules at the usual place.
rm -rf "$N/lib/modules"; mkdir -p "$N/lib/modules"
cp -a "/lib/modules/$(uname -r)" "$N/lib/modules/"
cp /stage2 $N/bs-guest-stage2
for d in proc sys dev; do mount --move "/$d" "$N/$d"; done
mount -t configfs configfs $N/sys/kernel/config
mount -t tmpfs -o mode=0755 tmpfs $N/run
mkdir -p $N/dev/pts $N/dev/shm $N/run/lock/lvm $N/run/lvm $N/run/dbus $N/mnt/job
mount -t devpts devpts $N/dev/pts
mount -t tmpfs tmpfs $N/dev/shm
[ -e $N/dev/fd ] || ln -s /proc/self/fd $N/dev/fd
# The host's initiator and LVM state must not leak into the guest (the host copies stay).
rm -rf $N/etc/iscsi/nodes $N/etc/iscsi/send_targets $N/var/lib/iscsi $N/etc/lvm/devices/system.devices \
       $N/etc/target/saveconfig.json $N/etc/rtslib-fb-target
mkdir -p $N/etc/iscsi/nodes $N/etc/iscsi/send_targets $N/etc/target $N/etc/rtslib-fb-target
echo "InitiatorName=iqn.2026-11.org.blockstore.guest:$(cut -c1-8 /proc/sys/kernel/random/uuid 2>/dev/null || cut -c1-8 $N/proc/sys/kernel/random/uuid)" \
    > $N/etc/iscsi/initiatorname.iscsi
hostname bs-guest
ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
    ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
fi
mount -t 9p -o "$P9" job $N/mnt/job || fail "9p mount of the job share failed"
while read -r tag path; do
    [ -n "$tag" ] || continue
    mkdir -p "$N$path" && mount -t 9p -o "$P9" "$tag" "$N$path" || echo "bs-guest: cannot mount $path" >&2
done < $N/mnt/job/mounts
exec switch_root $N /bs-guest-stage2
