"""blockstore-backup: the backup service of this node (backups, restores, deletes).

It reads and writes volumes through paths on this node that the volume
services of the node hand out (volume RPC 1.8), and stores backups in the
store ``[backup] backup_driver`` names (posix, swift).
"""

from blockstore.cmd import common
from blockstore.common import service


def main(argv=None):
    conf = common.setup(argv, prog='blockstore-backup')
    service.run([common.make_backup_service(conf)])


if __name__ == '__main__':
    main()
