"""blockstore-all: API, scheduler, volume and backup services in one process.

Defaults need no setup: SQLite in the state directory, oslo.messaging's
in-process ``fake://`` transport, a file-backed backend and backups in the
posix store under ``$state_path/backups``. The schema is brought up to date
at start.
"""

from oslo_log import log as logging

from blockstore.cmd import common
from blockstore.common import context
from blockstore.common import service
from blockstore.db import migration
from blockstore.volume import volume_types

LOG = logging.getLogger(__name__)


def main(argv=None):
    conf = common.setup(argv, embedded=True, prog='blockstore-all')
    migration.db_sync()
    volume_types.ensure_default_type(context.get_admin_context())
    services = [common.make_scheduler_service(conf)]
    services += common.make_volume_services(conf)
    services.append(common.make_backup_service(conf))
    services.append(common.make_api_service(conf))
    LOG.info('blockstore-all: state in %s, database %s', conf.state_path,
             conf.database.connection)
    service.run(services)


if __name__ == '__main__':
    main()
