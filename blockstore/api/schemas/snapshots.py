"""Request bodies of the snapshot API."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.common import idempotency
from blockstore.api.schemas import volumes
from blockstore.api import validation

create = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'snapshot': {
            'type': 'object',
            'properties': {
                'name': pt.name_allow_zero_min_length,
                'display_name': pt.name_allow_zero_min_length,
                'description': pt.description,
                'display_description': pt.description,
                'volume_id': pt.uuid,
                'force': pt.optional_boolean,
                'metadata': pt.metadata_allows_null,
                'client_token': idempotency.SCHEMA,
            },
            'required': ['volume_id'],
            'additionalProperties': False,
        },
    },
    'required': ['snapshot'],
    'additionalProperties': False,
})

update = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'snapshot': {
            'type': 'object',
            'properties': {
                'name': pt.name_allow_zero_min_length,
                'display_name': pt.name_allow_zero_min_length,
                'description': pt.description,
                'display_description': pt.description,
            },
            'additionalProperties': False,
        },
    },
    'required': ['snapshot'],
    'additionalProperties': False,
})

# Metadata bodies are the same as the volumes'.
metadata_body = volumes.metadata_body
meta_item_body = volumes.meta_item_body
