"""Request bodies of generic volume groups, group types and group snapshots (Cinder's shapes)."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.api import validation


def _body(key, properties, required=(), nullable=False):
    return validation.strict_since_353({
        'type': 'object',
        'properties': {key: {'type': ['object', 'null'] if nullable else 'object',
                             'properties': properties, 'required': list(required),
                             'additionalProperties': False}},
        'required': [key],
        'additionalProperties': False,
    })


_name = pt.name_allow_zero_min_length
_id_or_name = {'type': 'string', 'minLength': 1, 'maxLength': 255}
_status = {'type': 'string', 'minLength': 1, 'maxLength': 255}
_volume_list = {'type': ['string', 'null'], 'maxLength': 65535}

# -- groups (3.13) --------------------------------------------------------------------
group_create = _body('group', {
    'name': _name, 'description': pt.description, 'group_type': _id_or_name,
    'volume_types': {'type': 'array', 'minItems': 1, 'items': _id_or_name},
    'availability_zone': pt.availability_zone,
}, ['group_type', 'volume_types'])
group_create_from_src = _body('create-from-src', {
    'name': _name, 'description': pt.description,
    'source_group_id': pt.optional_uuid, 'group_snapshot_id': pt.optional_uuid,
})
group_update = _body('group', {
    'name': _name, 'description': pt.description,
    'add_volumes': _volume_list, 'remove_volumes': _volume_list,
})
GROUP_ACTIONS = {
    'delete': _body('delete', {'delete-volumes': pt.optional_boolean}, nullable=True),
    'reset_status': _body('reset_status', {'status': _status}, ['status']),
    'enable_replication': _body('enable_replication', {}, nullable=True),
    'disable_replication': _body('disable_replication', {}, nullable=True),
    'failover_replication': _body('failover_replication', {
        'allow_attached_volume': pt.optional_boolean,
        'secondary_backend_id': {'type': ['string', 'null'], 'maxLength': 255},
    }, nullable=True),
    'list_replication_targets': _body('list_replication_targets', {}, nullable=True),
}

# -- group types (3.11) ---------------------------------------------------------------
group_type_create = _body('group_type', {
    'name': pt.name, 'description': pt.description, 'is_public': pt.optional_boolean,
    'group_specs': pt.metadata_allows_null,
}, ['name'])
group_type_update = _body('group_type', {
    'name': _name, 'description': pt.description, 'is_public': pt.optional_boolean,
})
group_specs = validation.strict_since_353({
    'type': 'object', 'properties': {'group_specs': pt.metadata},
    'required': ['group_specs'], 'additionalProperties': False,
})
group_spec_item = validation.always(dict(pt.metadata, minProperties=1, maxProperties=1))

# -- group snapshots (3.14) -----------------------------------------------------------
group_snapshot_create = _body('group_snapshot', {
    'group_id': pt.uuid, 'name': _name, 'description': pt.description,
}, ['group_id'])
GROUP_SNAPSHOT_ACTIONS = {
    'reset_status': _body('reset_status', {'status': _status}, ['status']),
}
