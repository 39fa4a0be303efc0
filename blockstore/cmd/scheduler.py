"""blockstore-scheduler: places new volumes on backend pools."""

from blockstore.cmd import common
from blockstore.common import service


def main(argv=None):
    conf = common.setup(argv, prog='blockstore-scheduler')
    service.run([common.make_scheduler_service(conf)])


if __name__ == '__main__':
    main()
