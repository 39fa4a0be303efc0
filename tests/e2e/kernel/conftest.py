"""Kernel tier: the LVM driver with LIO and the kernel iSCSI initiator, in a QEMU guest.

On the host only ``test_kernel_tier.py`` is collected: it boots one guest
(``guest/run.sh``) that runs ``inside/`` with BLOCKSTORE_IN_GUEST=1 set.
"""

import os

IN_GUEST = os.environ.get('BLOCKSTORE_IN_GUEST') == '1'

# The inside-suite needs the guest's kernel (device-mapper, LIO, iscsi_tcp, /dev/vda).
collect_ignore = [] if IN_GUEST else ['inside']
