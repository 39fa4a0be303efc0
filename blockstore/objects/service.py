"""Service object: one running binary on one host (volume services: host@backend)."""

from oslo_utils import timeutils

from blockstore.db import api as db
from blockstore.objects import base

f = base.obj_fields


@base.BlockstoreObjectRegistry.register
class Service(base.BlockstorePersistentObject, base.BlockstoreObject):
    VERSION = '1.0'
    fields = dict(base.BlockstorePersistentObject.fields, **{
        'id': f.IntegerField(),
        'uuid': f.UUIDField(),
        'host': f.StringField(),
        'binary': f.StringField(),
        'topic': f.StringField(),
        'cluster_name': f.StringField(nullable=True),
        'availability_zone': f.StringField(),
        'report_count': f.IntegerField(),
        'last_seen_at': f.DateTimeField(nullable=True),
        'disabled': f.BooleanField(),
        'disabled_reason': f.StringField(nullable=True),
        'frozen': f.BooleanField(),
        'replication_status': f.StringField(),
        'active_backend_id': f.StringField(nullable=True),
        'rpc_current_version': f.StringField(nullable=True),
        'object_current_version': f.StringField(nullable=True),
    })
    _db_fields = tuple(fields)

    @classmethod
    def get_by_id(cls, context, service_id):
        return cls.from_db(context, db.service_get(context, service_id))

    @classmethod
    def get_by_args(cls, context, host, binary):
        return cls.from_db(context, db.service_get(context, host=host, binary=binary))

    def create(self):
        values = self.obj_get_changes()
        self._from_db_object(self._context, self, db.service_create(self._context, values))

    def save(self):
        changes = self.obj_get_changes()
        if changes:
            db.service_update(self._context, self.id, changes)
        self.obj_reset_changes()

    def destroy(self):
        db.service_destroy(self._context, self.id)

    def is_up(self, down_time):
        seen = self.last_seen_at  # set by heartbeats only
        if seen is None:
            return False
        seen = seen.replace(tzinfo=None)
        return abs((timeutils.utcnow() - seen).total_seconds()) <= down_time


@base.BlockstoreObjectRegistry.register
class ServiceList(base.ObjectListBase, base.BlockstoreObject):
    VERSION = '1.0'
    fields = {'objects': f.ListOfObjectsField('Service')}

    @classmethod
    def get_all(cls, context, **filters):
        return base.make_list(context, cls, Service, db.service_get_all(context, **filters))
