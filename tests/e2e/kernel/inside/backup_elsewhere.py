"""blockstore-all whose backup service is another node: ``python -m`` this module.

The same services as ``blockstore.cmd.all`` (API, scheduler, volume services,
backup service) in one process over the in-process ``fake://`` transport,
except that the backup service's host is ``$BLOCKSTORE_BACKUP_HOST``, not
``[DEFAULT] host``: it is what a blockstore-backup started with that host on
another machine would be (the guest has no message broker to run the two
as separate processes). So the backup service is not on the volume's node
and reads volumes over exports (``[backup] backup_use_export = auto``).
"""

import os

from blockstore.cmd import common
from blockstore.common import context
from blockstore.common import service
from blockstore.db import migration
from blockstore.volume import volume_types


def main(argv=None):
    conf = common.setup(argv, embedded=True, prog='blockstore-all')
    migration.db_sync()
    volume_types.ensure_default_type(context.get_admin_context())
    from blockstore.backup import manager
    backup_host = os.environ['BLOCKSTORE_BACKUP_HOST']
    assert backup_host != conf.host
    services = [common.make_scheduler_service(conf)]
    services += common.make_volume_services(conf)
    services.append(service.Service(
        'blockstore-backup', backup_host, conf.backup_topic,
        manager.BackupManager(backup_host, conf=conf), cluster=conf.cluster))
    services.append(common.make_api_service(conf))
    service.run(services)


if __name__ == '__main__':
    main()
