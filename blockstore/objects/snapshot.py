"""Snapshot object."""

from blockstore.db import api as db
from blockstore.objects import base
from blockstore.objects import states
from blockstore.objects.volume import StatefulMixin
from blockstore.objects.volume import _work

f = base.obj_fields


@base.BlockstoreObjectRegistry.register
class Snapshot(StatefulMixin, base.BlockstorePersistentObject, base.BlockstoreObject):
    # 1.1: its VolumeType is 1.1
    # 1.2: its Volume is 1.2
    VERSION = '1.2'
    _resource = 'snapshot'
    fields = dict(base.BlockstorePersistentObject.fields, **{
        'id': f.UUIDField(),
        'volume_id': f.UUIDField(),
        'project_id': f.StringField(),
        'user_id': f.StringField(nullable=True),
        'status': f.StringField(),
        'progress': f.StringField(nullable=True),
        'volume_size': f.IntegerField(),
        'display_name': f.StringField(nullable=True),
        'display_description': f.StringField(nullable=True),
        'provider_location': f.StringField(nullable=True),
        'provider_id': f.StringField(nullable=True),
        'provider_auth': f.StringField(nullable=True),
        'volume_type_id': f.UUIDField(),
        'group_snapshot_id': f.UUIDField(nullable=True),
        'use_quota': f.BooleanField(),
        'deleted': f.BooleanField(),
        'deleted_at': f.DateTimeField(nullable=True),
        'metadata': f.DictOfNullableStringsField(),
        'volume': f.ObjectField('Volume', nullable=True),
    })
    _db_fields = tuple(k for k in fields if k not in ('metadata', 'volume'))

    @property
    def name(self):
        return 'snapshot-%s' % self.id

    @classmethod
    def _from_db_object(cls, context, obj, db_obj):
        obj.metadata = {m.key: m.value for m in db_obj.snapshot_metadata}
        return super()._from_db_object(context, obj, db_obj)

    @classmethod
    def get_by_id(cls, context, snapshot_id, project_id=None, read_deleted=False):
        return cls.from_db(context, db.snapshot_get(context, snapshot_id, project_id,
                                                    read_deleted))

    def obj_load_attr(self, attrname):
        if attrname == 'volume':
            from blockstore.objects.volume import Volume
            self.volume = Volume.get_by_id(self._context, self.volume_id, read_deleted=True)
            self.obj_reset_changes(['volume'])
            return
        raise NotImplementedError('Snapshot.%s is not set' % attrname)

    def create(self, work=None):
        """Insert in the initial state; ``work`` {'operation', 'payload'} is recorded with it."""
        values = self.obj_get_changes()
        metadata = values.pop('metadata', {})
        values.pop('volume', None)
        values.setdefault('status', states.SNAPSHOT.initial)
        if values['status'] != states.SNAPSHOT.initial:
            raise AssertionError('snapshots are created in state %s' % states.SNAPSHOT.initial)
        self._from_db_object(self._context, self,
                             db.snapshot_create(self._context, values, metadata, _work(work)))

    def save(self):
        changes = self.obj_get_changes()
        if 'metadata' in changes:
            db.snapshot_metadata_update(self._context, self.id, changes['metadata'], delete=True)
        self._save_changes(db.snapshot_update, exclude=('metadata', 'volume'))

    def refresh(self):
        self.obj_refresh(Snapshot.get_by_id(self._context, self.id, read_deleted=True))


@base.BlockstoreObjectRegistry.register
class SnapshotList(base.ObjectListBase, base.BlockstoreObject):
    VERSION = '1.0'
    fields = {'objects': f.ListOfObjectsField('Snapshot')}
