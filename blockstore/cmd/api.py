"""blockstore-api: the REST API (WSGI, served by cheroot)."""

from blockstore.cmd import common
from blockstore.common import service


def main(argv=None):
    conf = common.setup(argv, prog='blockstore-api')
    service.run([common.make_api_service(conf)])


if __name__ == '__main__':
    main()
