"""blockstore-volume: one volume manager per enabled backend, in one process."""

import sys

from blockstore.cmd import common
from blockstore.common import service


def main(argv=None):
    conf = common.setup(argv, prog='blockstore-volume')
    services = common.make_volume_services(conf)
    if not services:
        sys.exit('No backends: set [DEFAULT] enabled_backends.')
    service.run(services)


if __name__ == '__main__':
    main()
