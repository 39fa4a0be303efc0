"""Backup object. Status changes only through ``transition``; ``save`` refuses them."""

from blockstore.db import backups as db_backups
from blockstore.objects import base
from blockstore.objects import states
from blockstore.objects.volume import StatefulMixin
from blockstore.objects.volume import _work

f = base.obj_fields


@base.BlockstoreObjectRegistry.register
class Backup(StatefulMixin, base.BlockstorePersistentObject, base.BlockstoreObject):
    VERSION = '1.0'
    _resource = 'backup'
    fields = dict(base.BlockstorePersistentObject.fields, **{
        'id': f.UUIDField(),
        'volume_id': f.UUIDField(),
        'user_id': f.StringField(nullable=True),
        'project_id': f.StringField(),
        'host': f.StringField(nullable=True),
        'availability_zone': f.StringField(nullable=True),
        'display_name': f.StringField(nullable=True),
        'display_description': f.StringField(nullable=True),
        'container': f.StringField(nullable=True),
        'status': f.StringField(),
        'fail_reason': f.StringField(nullable=True),
        'service_metadata': f.StringField(nullable=True),
        'service': f.StringField(nullable=True),
        'size': f.IntegerField(),
        'object_count': f.IntegerField(),
        'parent_id': f.UUIDField(nullable=True),
        'temp_volume_id': f.UUIDField(nullable=True),
        'temp_snapshot_id': f.UUIDField(nullable=True),
        'snapshot_id': f.UUIDField(nullable=True),
        'data_timestamp': f.DateTimeField(nullable=True),
        'restore_volume_id': f.UUIDField(nullable=True),
        'encryption_key_id': f.UUIDField(nullable=True),
        # Live incremental backups of this one, counted when it was read.
        'num_dependent_backups': f.IntegerField(),
        'progress': f.IntegerField(nullable=True),
        'bytes_done': f.IntegerField(),
        'bytes_read': f.IntegerField(),
        'deleted': f.BooleanField(),
        'deleted_at': f.DateTimeField(nullable=True),
        'metadata': f.DictOfNullableStringsField(),
    })
    _db_fields = tuple(k for k in fields if k != 'metadata')

    @property
    def name(self):
        return 'backup-%s' % self.id

    @property
    def is_incremental(self):
        return self.parent_id is not None

    @property
    def has_dependent_backups(self):
        return bool(self.num_dependent_backups)

    @classmethod
    def _from_db_object(cls, context, obj, db_obj):
        metadata = getattr(db_obj, 'metadata', None)
        if not isinstance(metadata, dict):   # an ORM row (a listing's record has the dict)
            metadata = {m.key: m.value for m in db_obj.backup_metadata}
        obj.metadata = metadata
        return super()._from_db_object(context, obj, db_obj)

    @classmethod
    def get_by_id(cls, context, backup_id, project_id=None, read_deleted=False):
        return cls.from_db(context, db_backups.backup_get(context, backup_id, project_id,
                                                          read_deleted))

    def create(self, work=None):
        """Insert in the initial state; ``work`` {'operation', 'payload'} is recorded with it."""
        values = self.obj_get_changes()
        metadata = values.pop('metadata', {})
        values.pop('num_dependent_backups', None)
        values.setdefault('status', states.BACKUP.initial)
        if values['status'] not in states.BACKUP.entries:
            raise AssertionError('backups are created in state %s' % states.BACKUP.initial)
        self._from_db_object(self._context, self,
                             db_backups.backup_create(self._context, values, metadata,
                                                      _work(work, values['status'])))

    def save(self):
        changes = self.obj_get_changes()
        if 'metadata' in changes:
            db_backups.backup_metadata_update(self._context, self.id, changes['metadata'],
                                              delete=True)
        self._save_changes(db_backups.backup_update,
                           exclude=('metadata', 'num_dependent_backups'))

    def refresh(self):
        self.obj_refresh(Backup.get_by_id(self._context, self.id, read_deleted=True))

    def obj_load_attr(self, attrname):
        raise NotImplementedError('Backup.%s is not set' % attrname)


@base.BlockstoreObjectRegistry.register
class BackupList(base.ObjectListBase, base.BlockstoreObject):
    VERSION = '1.0'
    fields = {'objects': f.ListOfObjectsField('Backup')}

    @classmethod
    def get_all(cls, context, filters=None, marker=None, limit=None, sort_keys=None,
                sort_dirs=None, project_id=None, offset=None):
        rows = db_backups.backup_get_all(context, filters=filters, marker=marker, limit=limit,
                                         sort_keys=sort_keys, sort_dirs=sort_dirs,
                                         project_id=project_id, offset=offset)
        return base.make_list(context, cls, Backup, rows)
