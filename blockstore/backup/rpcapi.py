"""Client side of the backup RPC API.

Backup services listen on topic ``backup_topic`` with server = their host
(``CONF.host`` of the node running blockstore-backup); a backup's ``host``
names the service that owns it (chosen by the service layer).

History:
  1.0 - create_backup, restore_backup, delete_backup, import_record (casts);
        export_record (call -> {'backup_service', 'backup_url'})
"""

from oslo_config import cfg

from blockstore.common import rpc

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF


class BackupAPI(rpc.RPCAPI):
    RPC_API_VERSION = '1.0'
    BINARY = 'blockstore-backup'

    @property
    def TOPIC(self):
        return CONF.backup_topic

    def _prepare(self, host, version='1.0', **kwargs):
        return self.prepare(server=host, version=version, **kwargs)

    def create_backup(self, ctxt, backup):
        self._prepare(backup.host).cast(ctxt, 'create_backup', backup=backup)

    def restore_backup(self, ctxt, backup, volume_id):
        self._prepare(backup.host).cast(ctxt, 'restore_backup', backup=backup,
                                        volume_id=volume_id)

    def delete_backup(self, ctxt, backup):
        self._prepare(backup.host).cast(ctxt, 'delete_backup', backup=backup)

    def import_record(self, ctxt, backup, backup_service, backup_url):
        self._prepare(backup.host).cast(ctxt, 'import_record', backup=backup,
                                        backup_service=backup_service,
                                        backup_url=backup_url)

    def export_record(self, ctxt, backup):
        """{'backup_service', 'backup_url'}: what import_record needs to know the backup."""
        return self._prepare(backup.host, timeout=60).call(ctxt, 'export_record',
                                                           backup=backup)
