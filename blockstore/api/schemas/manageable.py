"""Request bodies of the manage-existing API."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.api import validation

_ref = {'type': 'object', 'minProperties': 1}

manage_volume = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'volume': {
            'type': 'object',
            'properties': {
                'host': {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255},
                'cluster': {'type': ['string', 'null'], 'maxLength': 255},
                'ref': _ref,
                'name': pt.name_allow_zero_min_length,
                'description': pt.description,
                'volume_type': {'type': ['string', 'null'], 'maxLength': 255},
                'availability_zone': pt.availability_zone,
                'metadata': pt.metadata_allows_null,
                'bootable': pt.optional_boolean,
            },
            'required': ['ref'],
            'additionalProperties': False,
        },
    },
    'required': ['volume'],
    'additionalProperties': False,
})

manage_snapshot = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'snapshot': {
            'type': 'object',
            'properties': {
                'volume_id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
                'ref': _ref,
                'name': pt.name_allow_zero_min_length,
                'description': pt.description,
                'metadata': pt.metadata_allows_null,
            },
            'required': ['volume_id', 'ref'],
            'additionalProperties': False,
        },
    },
    'required': ['snapshot'],
    'additionalProperties': False,
})
