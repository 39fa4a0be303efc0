"""Volume type object with its extra specs."""

from blockstore.db import api as db
from blockstore.objects import base

f = base.obj_fields


@base.BlockstoreObjectRegistry.register
class VolumeType(base.BlockstorePersistentObject, base.BlockstoreObject):
    # 1.1: qos_specs_id
    VERSION = '1.1'
    fields = dict(base.BlockstorePersistentObject.fields, **{
        'id': f.UUIDField(),
        'name': f.StringField(),
        'description': f.StringField(nullable=True),
        'is_public': f.BooleanField(),
        'extra_specs': f.DictOfNullableStringsField(),
        'qos_specs_id': f.UUIDField(nullable=True),
    })
    _db_fields = ('id', 'name', 'description', 'is_public', 'created_at', 'updated_at',
                  'qos_specs_id')

    def obj_make_compatible(self, primitive, target_version):
        super().obj_make_compatible(primitive, target_version)
        if target_version == '1.0':
            primitive.pop('qos_specs_id', None)

    @classmethod
    def _from_db_object(cls, context, obj, db_obj):
        obj.extra_specs = {s.key: s.value for s in db_obj.extra_specs}
        return super()._from_db_object(context, obj, db_obj)

    @classmethod
    def get_by_id(cls, context, type_id):
        return cls.from_db(context, db.volume_type_get(context, type_id))

    @classmethod
    def get_by_name(cls, context, name):
        return cls.from_db(context, db.volume_type_get_by_name(context, name))

    def create(self):
        values = self.obj_get_changes()
        specs = values.pop('extra_specs', {})
        self._from_db_object(self._context, self,
                             db.volume_type_create(self._context, values, specs))


@base.BlockstoreObjectRegistry.register
class VolumeTypeList(base.ObjectListBase, base.BlockstoreObject):
    VERSION = '1.0'
    fields = {'objects': f.ListOfObjectsField('VolumeType')}

    @classmethod
    def get_all(cls, context, is_public=None):
        return base.make_list(context, cls, VolumeType,
                              db.volume_type_get_all(context, is_public=is_public))
