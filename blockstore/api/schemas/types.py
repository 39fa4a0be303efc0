"""Request bodies of the volume type API."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.api import validation

create = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'volume_type': {
            'type': 'object',
            'properties': {
                'name': pt.name,
                'description': pt.description,
                'extra_specs': pt.extra_specs,
                'os-volume-type-access:is_public': pt.boolean,
            },
            'required': ['name'],
            'additionalProperties': False,
        },
    },
    'required': ['volume_type'],
    'additionalProperties': False,
})

update = validation.strict_since_353({
    'type': 'object',
    'properties': {
        'volume_type': {
            'type': 'object',
            'properties': {
                'name': {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255},
                'description': pt.description,
                'is_public': pt.boolean,
            },
            'additionalProperties': False,
        },
    },
    'required': ['volume_type'],
    'additionalProperties': False,
})

extra_specs_body = validation.strict_since_353({
    'type': 'object',
    'properties': {'extra_specs': pt.extra_specs},
    'required': ['extra_specs'],
    'additionalProperties': False,
})

# PUT /types/{id}/extra_specs/{key}: {"<key>": "<value>"}; the key check is the handler's.
extra_spec_item = validation.always(dict(pt.extra_specs, minProperties=1))
