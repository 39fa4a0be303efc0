"""Request bodies of the volume type API."""

import copy

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


# -- type access -----------------------------------------------------------------

def _project_access(action):
    return validation.always({
        'type': 'object',
        'properties': {
            action: {
                'type': 'object',
                'properties': {'project': {'type': 'string', 'minLength': 1,
                                           'maxLength': 255}},
                'required': ['project'],
                'additionalProperties': False,
            },
        },
        'required': [action],
        'additionalProperties': False,
    })


add_project_access = _project_access('addProjectAccess')
remove_project_access = _project_access('removeProjectAccess')

# -- default types (3.62) ------------------------------------------------------------

default_type = validation.always({
    'type': 'object',
    'properties': {
        'default_type': {
            'type': 'object',
            'properties': {'volume_type': {'type': 'string', 'minLength': 1,
                                           'maxLength': 255}},
            'required': ['volume_type'],
            'additionalProperties': False,
        },
    },
    'required': ['default_type'],
    'additionalProperties': False,
})

# -- encryption ------------------------------------------------------------------------

key_size = {'type': ['integer', 'string', 'null'], 'pattern': '^[0-9]+$', 'minimum': 0,
            'maximum': pt.DB_MAX_INT}

_ENCRYPTION = {
    'type': 'object',
    'properties': {
        'encryption': {
            'type': 'object',
            'properties': {
                'key_size': key_size,
                'provider': {'type': 'string', 'minLength': 0, 'maxLength': 255},
                'control_location': {'enum': ['front-end', 'back-end']},
                'cipher': {'type': ['string', 'null'], 'minLength': 0, 'maxLength': 255},
            },
            'required': ['provider', 'control_location'],
            'additionalProperties': False,
        },
    },
    'required': ['encryption'],
    'additionalProperties': False,
}
encryption_create = validation.always(_ENCRYPTION)
_UPDATE = copy.deepcopy(_ENCRYPTION)
_UPDATE['properties']['encryption']['required'] = []
encryption_update = validation.always(_UPDATE)
