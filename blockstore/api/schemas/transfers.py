"""Request bodies of the volume transfer API."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.api import validation

_CREATE = {
    'type': 'object',
    'properties': {
        'transfer': {
            'type': 'object',
            'properties': {
                'volume_id': pt.uuid,
                'name': {'type': ['string', 'null'], 'maxLength': 255},
                'no_snapshots': pt.boolean,
            },
            'required': ['volume_id'],
            'additionalProperties': False,
        },
    },
    'required': ['transfer'],
    'additionalProperties': False,
}
create = validation.strict_since_353(_CREATE)

accept = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'accept': {
            'type': 'object',
            'properties': {'auth_key': {'type': 'string', 'minLength': 1, 'maxLength': 255}},
            'required': ['auth_key'],
            'additionalProperties': False,
        },
    },
    'required': ['accept'],
    'additionalProperties': False,
})
