"""Versioned-object base, registry, serializer and the aggregate version history.

``OBJ_VERSIONS`` maps one history version (what a service records in the
services table as ``object_current_version``) to the version of every object
class at that point. A sender pinned to an older history version backports
each object it sends with that version's manifest.
"""

import collections

from oslo_versionedobjects import base
from oslo_versionedobjects import fields

obj_fields = fields
ObjectListBase = base.ObjectListBase


class BlockstoreObjectRegistry(base.VersionedObjectRegistry):
    def registration_hook(self, cls, index):
        from blockstore import objects
        setattr(objects, cls.obj_name(), cls)


class ObjectVersionHistory(collections.OrderedDict):
    def add(self, history_version, changes):
        """Record a history version: the previous manifest updated with ``changes``."""
        manifest = dict(self[next(reversed(self))]) if self else {}
        manifest.update(changes)
        self[history_version] = manifest

    def get_current(self):
        return next(reversed(self))

    def get_manifest(self, history_version=None):
        return self[history_version or self.get_current()]


OBJ_VERSIONS = ObjectVersionHistory()
OBJ_VERSIONS.add('1.0', {
    'Service': '1.0', 'ServiceList': '1.0',
    'VolumeType': '1.0', 'VolumeTypeList': '1.0',
    'Volume': '1.0', 'VolumeList': '1.0',
    'Snapshot': '1.0', 'SnapshotList': '1.0',
    'Worker': '1.0', 'WorkerList': '1.0',
})
# 1.1: VolumeType.qos_specs_id (Volume and Snapshot embed it)
OBJ_VERSIONS.add('1.1', {'VolumeType': '1.1', 'Volume': '1.1', 'Snapshot': '1.1'})
# 1.2: Volume._name_id (migration); Snapshot embeds Volume
OBJ_VERSIONS.add('1.2', {'Volume': '1.2', 'Snapshot': '1.2'})
# 1.3: Backup, BackupList (backups, issue 10)
OBJ_VERSIONS.add('1.3', {'Backup': '1.0', 'BackupList': '1.0'})


class BlockstoreObject(base.VersionedObject):
    OBJ_PROJECT_NAMESPACE = 'blockstore'
    OBJ_SERIAL_NAMESPACE = 'blockstore_object'

    # Fields set from the database row of the same name.
    _db_fields = ()

    @classmethod
    def _from_db_object(cls, context, obj, db_obj):
        for name in cls._db_fields:
            setattr(obj, name, getattr(db_obj, name))
        obj._context = context
        obj.obj_reset_changes()
        return obj

    @classmethod
    def from_db(cls, context, db_obj):
        return cls._from_db_object(context, cls(context), db_obj)

    def obj_refresh(self, fresh):
        for name in self.fields:
            if fresh.obj_attr_is_set(name):
                setattr(self, name, getattr(fresh, name))
        self.obj_reset_changes()


class BlockstoreObjectDictCompat(base.VersionedObjectDictCompat):
    pass


class BlockstorePersistentObject:
    """Timestamps and soft-delete fields shared by database-backed objects."""
    fields = {
        'created_at': fields.DateTimeField(nullable=True),
        'updated_at': fields.DateTimeField(nullable=True),
    }


class BlockstoreObjectSerializer(base.VersionedObjectSerializer):
    """Serializer that backports objects to the pinned history version."""
    OBJ_BASE_CLASS = BlockstoreObject

    def __init__(self, history_version=None):
        super().__init__()
        self.history_version = history_version
        self.manifest = (OBJ_VERSIONS.get_manifest(history_version)
                         if history_version else None)

    def _process_object(self, context, objprim):
        return super()._process_object(context, objprim)

    def serialize_entity(self, context, entity):
        if isinstance(entity, BlockstoreObject) and self.manifest:
            target = self.manifest.get(entity.obj_name())
            return entity.obj_to_primitive(target_version=target,
                                           version_manifest=self.manifest)
        return super().serialize_entity(context, entity)


def make_list(context, list_cls, item_cls, db_rows):
    lst = list_cls(context)
    lst.objects = [item_cls.from_db(context, r) for r in db_rows]
    lst.obj_reset_changes()
    return lst
