"""Volume object. Status changes only through ``transition``; ``save`` refuses them."""

from blockstore.db import api as db
from blockstore.objects import base
from blockstore.objects import states

f = base.obj_fields


def _work(work, status=states.CREATING):
    """A create's work record: its status is the state the row is inserted in."""
    return dict(work, status=status) if work else None


class StatefulMixin:
    """Shared by objects whose status lives in a transition table."""
    _resource = None

    def transition(self, event, target=None, **values):
        """Apply a transition table event; on success update this object, return True.

        ``target`` picks the state of an event whose target is a Choice.
        """
        won = states.transition(self._context, self._resource, self.id, event, values,
                                target=target)
        if won:
            self._applied(event, target, values)
        return won

    def transition_or_raise(self, event, target=None, **values):
        """transition(), retried once with a 400 naming every unmet precondition.

        The retry can win (the row changed back between the two tries); this
        object then shows the state it won, as after a first-try win.
        """
        if not self.transition(event, target=target, **values):
            states.transition_or_raise(self._context, self._resource, self.id, event, values,
                                       target=target)
            self._applied(event, target, values)

    def _applied(self, event, target, values):
        """Show a won ``event`` on this object, as the database now has it."""
        values = dict(values)
        target = states.target_of(self._resource, event, target)
        if target is not None:
            values['status'] = target
        for k, v in values.items():
            if k in self.fields:
                setattr(self, k, v)
        self.obj_reset_changes(list(values))

    def _save_changes(self, update_fn, exclude=()):
        changes = {k: v for k, v in self.obj_get_changes().items() if k not in exclude}
        if 'status' in changes:
            raise AssertionError('status changes go through transition()')
        if changes:
            update_fn(self._context, self.id, changes)
        self.obj_reset_changes()


@base.BlockstoreObjectRegistry.register
class Volume(StatefulMixin, base.BlockstorePersistentObject, base.BlockstoreObject):
    # 1.1: its VolumeType is 1.1
    # 1.2: _name_id (the backend name a migration left it with)
    VERSION = '1.2'
    _resource = 'volume'
    fields = dict(base.BlockstorePersistentObject.fields, **{
        'id': f.UUIDField(),
        'project_id': f.StringField(),
        'user_id': f.StringField(nullable=True),
        'host': f.StringField(nullable=True),
        'cluster_name': f.StringField(nullable=True),
        'availability_zone': f.StringField(nullable=True),
        'size': f.IntegerField(),
        'status': f.StringField(),
        'attach_status': f.StringField(),
        'migration_status': f.StringField(nullable=True),
        '_name_id': f.UUIDField(nullable=True),
        'display_name': f.StringField(nullable=True),
        'display_description': f.StringField(nullable=True),
        'provider_location': f.StringField(nullable=True),
        'provider_auth': f.StringField(nullable=True),
        'provider_id': f.StringField(nullable=True),
        'snapshot_id': f.UUIDField(nullable=True),
        'source_volid': f.UUIDField(nullable=True),
        'volume_type_id': f.UUIDField(),
        'group_id': f.UUIDField(nullable=True),
        'bootable': f.BooleanField(),
        'multiattach': f.BooleanField(),
        'replication_status': f.StringField(nullable=True),
        'encryption_key_id': f.UUIDField(nullable=True),
        'service_uuid': f.UUIDField(nullable=True),
        'shared_targets': f.BooleanField(nullable=True),
        'use_quota': f.BooleanField(),
        'scheduled_at': f.DateTimeField(nullable=True),
        'launched_at': f.DateTimeField(nullable=True),
        'terminated_at': f.DateTimeField(nullable=True),
        'deleted': f.BooleanField(),
        'deleted_at': f.DateTimeField(nullable=True),
        'metadata': f.DictOfNullableStringsField(),
        'admin_metadata': f.DictOfNullableStringsField(),
        'volume_type': f.ObjectField('VolumeType', nullable=True),
    })
    _db_fields = tuple(k for k in fields if k not in ('metadata', 'admin_metadata',
                                                       'volume_type'))

    @property
    def name_id(self):
        """The id the backend name derives from: its own, or the one a migration left."""
        if self.obj_attr_is_set('_name_id') and self._name_id:
            return self._name_id
        return self.id

    @property
    def name(self):
        """Backend name of the volume (file name, LV name)."""
        return 'volume-%s' % self.name_id

    def obj_make_compatible(self, primitive, target_version):
        super().obj_make_compatible(primitive, target_version)
        from oslo_utils import versionutils
        if versionutils.convert_version_to_tuple(target_version) < (1, 2):
            primitive.pop('_name_id', None)

    @classmethod
    def _from_db_object(cls, context, obj, db_obj):
        from blockstore.objects.volume_type import VolumeType
        obj.metadata = {m.key: m.value for m in db_obj.volume_metadata}
        obj.admin_metadata = {m.key: m.value for m in db_obj.volume_admin_metadata}
        obj.volume_type = (VolumeType.from_db(context, db_obj.volume_type)
                           if db_obj.volume_type is not None else None)
        return super()._from_db_object(context, obj, db_obj)

    @classmethod
    def get_by_id(cls, context, volume_id, project_id=None, read_deleted=False):
        return cls.from_db(context, db.volume_get(context, volume_id, project_id, read_deleted))

    def create(self, work=None):
        """Insert in the initial state; ``work`` {'operation', 'payload'} is recorded with it."""
        values = self.obj_get_changes()
        metadata = values.pop('metadata', {})
        admin_metadata = values.pop('admin_metadata', {})
        values.pop('volume_type', None)
        values.setdefault('status', states.VOLUME.initial)
        if values['status'] not in states.VOLUME.entries:
            raise AssertionError('volumes are created in state %s'
                                 % ' or '.join(states.VOLUME.entries))
        self._from_db_object(self._context, self,
                             db.volume_create(self._context, values, metadata, admin_metadata,
                                             _work(work, values['status'])))

    def save(self):
        changes = self.obj_get_changes()
        if 'metadata' in changes:
            db.volume_metadata_update(self._context, self.id, changes['metadata'], delete=True)
        if 'admin_metadata' in changes:
            db.volume_admin_metadata_update(self._context, self.id, changes['admin_metadata'])
        self._save_changes(db.volume_update,
                           exclude=('metadata', 'admin_metadata', 'volume_type'))

    def refresh(self):
        self.obj_refresh(Volume.get_by_id(self._context, self.id, read_deleted=True))

    def obj_load_attr(self, attrname):
        raise NotImplementedError('Volume.%s is not set' % attrname)


@base.BlockstoreObjectRegistry.register
class VolumeList(base.ObjectListBase, base.BlockstoreObject):
    VERSION = '1.0'
    fields = {'objects': f.ListOfObjectsField('Volume')}
