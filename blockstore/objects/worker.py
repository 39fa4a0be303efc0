"""Work record object: long work in progress on one resource, claimable after a crash."""

from oslo_serialization import jsonutils

from blockstore.db import api as db
from blockstore.objects import base

f = base.obj_fields


@base.BlockstoreObjectRegistry.register
class Worker(base.BlockstorePersistentObject, base.BlockstoreObject):
    VERSION = '1.0'
    fields = dict(base.BlockstorePersistentObject.fields, **{
        'id': f.IntegerField(),
        'resource_type': f.StringField(),
        'resource_id': f.UUIDField(),
        'operation': f.StringField(),
        'status': f.StringField(),
        'service_id': f.IntegerField(nullable=True),
        'race_preventer': f.IntegerField(),
        'payload': f.StringField(nullable=True),
    })
    _db_fields = tuple(fields)

    @classmethod
    def record(cls, context, resource_type, resource_id, operation, status, service_id=None,
               payload=None):
        return cls.from_db(context, db.worker_create(context, resource_type, resource_id,
                                                     operation, status, service_id, payload))

    @property
    def args(self):
        """The recorded arguments of the work (a dict)."""
        return jsonutils.loads(self.payload) if self.payload else {}

    def claim(self, service_id):
        won = db.worker_claim(self._context, self, service_id)
        if won:
            self.service_id = service_id
            self.race_preventer += 1
            self.obj_reset_changes()
        return won

    def destroy(self):
        db.worker_destroy(self._context, self.resource_type, self.resource_id)


@base.BlockstoreObjectRegistry.register
class WorkerList(base.ObjectListBase, base.BlockstoreObject):
    VERSION = '1.0'
    fields = {'objects': f.ListOfObjectsField('Worker')}

    @classmethod
    def get_all(cls, context, **filters):
        return base.make_list(context, cls, Worker, db.worker_get_all(context, **filters))
