"""Request bodies of the QoS specs API."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.api import validation

_SPEC_KEY = {'type': 'string', 'minLength': 1, 'maxLength': 255, 'pattern': r'^\S+$'}
_SPEC_VALUE = {'type': 'string', 'maxLength': 255}

create = validation.always({
    'type': 'object',
    'properties': {
        'qos_specs': {
            'type': 'object',
            'properties': {
                'name': dict(pt.name, pattern=r'^\S(.*\S)?$'),
            },
            'propertyNames': _SPEC_KEY,
            'additionalProperties': _SPEC_VALUE,
            'required': ['name'],
        },
    },
    'required': ['qos_specs'],
    'additionalProperties': False,
})

update = validation.always({
    'type': 'object',
    'properties': {
        'qos_specs': {
            'type': 'object',
            'propertyNames': _SPEC_KEY,
            'additionalProperties': _SPEC_VALUE,
        },
    },
    'required': ['qos_specs'],
    'additionalProperties': False,
})

delete_keys = validation.always({
    'type': 'object',
    'properties': {
        'keys': {'type': 'array', 'items': {'type': 'string', 'minLength': 1,
                                            'maxLength': 255},
                 'uniqueItems': True},
    },
    'required': ['keys'],
    'additionalProperties': False,
})
