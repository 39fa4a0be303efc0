"""Request bodies of quota sets and quota class sets (validated at every version, as
Cinder's are). Keys and values are checked further by the handlers, in Cinder's words."""

from blockstore.api import validation

update_quota = validation.always({
    'type': 'object',
    'properties': {
        'quota_set': {'type': 'object', 'minProperties': 1},
    },
    'required': ['quota_set'],
    'additionalProperties': False,
})

update_quota_class = validation.always({
    'type': 'object',
    'properties': {
        'quota_class_set': {
            'type': 'object',
            'patternProperties': {
                '^[a-zA-Z0-9-_:. ]{1,300}$': {'type': ['integer', 'string']},
            },
            'additionalProperties': False,
        },
    },
    'required': ['quota_class_set'],
    'additionalProperties': False,
})
