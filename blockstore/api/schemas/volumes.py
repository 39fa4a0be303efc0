"""Request bodies of the volume API."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.common import idempotency
from blockstore.api import validation

create = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'volume': {
            'type': 'object',
            'properties': {
                'name': pt.name_allow_zero_min_length,
                'display_name': pt.name_allow_zero_min_length,
                'description': pt.description,
                'display_description': pt.description,
                'size': pt.volume_size_allows_null,
                'availability_zone': pt.availability_zone,
                'source_volid': pt.optional_uuid,
                'snapshot_id': pt.optional_uuid,
                'backup_id': pt.optional_uuid,
                'group_id': pt.optional_uuid,
                'consistencygroup_id': pt.optional_uuid,
                'volume_type': {'type': ['string', 'null'], 'maxLength': 255},
                'imageRef': {'type': ['string', 'null']},
                'image_id': {'type': ['string', 'null']},
                'metadata': pt.metadata_allows_null,
                'multiattach': pt.optional_boolean,
                'client_token': idempotency.SCHEMA,
            },
            # As in Cinder: unknown keys inside "volume" are tolerated.
            'additionalProperties': True,
        },
        'OS-SCH-HNT:scheduler_hints': {'type': ['object', 'null']},
    },
    'required': ['volume'],
    'additionalProperties': False,
})

update = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'volume': {
            'type': 'object',
            'properties': {
                'name': pt.name_allow_zero_min_length,
                'display_name': pt.name_allow_zero_min_length,
                'description': pt.description,
                'display_description': pt.description,
                'metadata': pt.metadata,
            },
            'additionalProperties': False,
        },
    },
    'required': ['volume'],
    'additionalProperties': False,
})

metadata_body = validation.strict_since_353({
    'type': 'object',
    'properties': {'metadata': pt.metadata},
    'required': ['metadata'],
    'additionalProperties': False,
})

meta_item_body = validation.strict_since_353({
    'type': 'object',
    'properties': {'meta': dict(pt.metadata, minProperties=1)},
    'required': ['meta'],
    'additionalProperties': False,
})

extend = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'os-extend': {
            'type': 'object',
            'properties': {'new_size': pt.volume_size},
            'required': ['new_size'],
            'additionalProperties': False,
        },
    },
    'required': ['os-extend'],
    'additionalProperties': False,
})

# Actions whose argument is ignored: {"os-force_delete": {}} or null.
no_argument_action = validation.always({'type': 'object'})
