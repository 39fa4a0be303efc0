#!/bin/sh
# Stage 2 of the kernel-tier guest: PID 1 on the host's userland. Runs /mnt/job/cmd (written by
# run.sh), stores its exit status in /mnt/job/rc and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
export DM_DISABLE_UDEV=1          # no udev: libdevmapper creates /dev/mapper and /dev/VG/LV itself
dmesg -n 1                        # kernel messages stay in dmesg, out of the job's output
# targetcli's /backstores node asks the system bus for tcmu-runner and dies without one.
[ -x /usr/bin/dbus-daemon ] && dbus-daemon --system --fork >/dev/null 2>&1
echo "bs-guest: ready after $(cut -d' ' -f1 /proc/uptime) s of guest uptime"
if [ -x /mnt/job/cmd ]; then
    /mnt/job/cmd
    echo $? > /mnt/job/rc.tmp && mv /mnt/job/rc.tmp /mnt/job/rc
else
    echo 125 > /mnt/job/rc
fi
sync
busybox poweroff -f 2>/dev/null || { echo o > /proc/sysrq-trigger; sleep 60; }
