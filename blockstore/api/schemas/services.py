"""Request bodies of os-services actions and cluster enable/disable (Cinder's schemas;
unknown keys are tolerated before 3.53)."""

import copy

from blockstore.api import validation

hostname = {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255,
            'pattern': '^[a-zA-Z0-9-._#@]*$'}
nullable_string = {'type': ['string', 'null'], 'minLength': 0, 'maxLength': 255}
_binary = {'type': 'string', 'minLength': 1, 'maxLength': 255}

_ENABLE_DISABLE = {
    'type': 'object',
    'properties': {
        'binary': _binary,
        'host': hostname,
        'cluster': nullable_string,
        'service': _binary,
    },
    'anyOf': [{'required': ['binary']}, {'required': ['service']}],
    'additionalProperties': False,
}
enable_and_disable = validation.strict_since_353(_ENABLE_DISABLE)

_DISABLE_LOG_REASON = copy.deepcopy(_ENABLE_DISABLE)
_DISABLE_LOG_REASON['properties']['disabled_reason'] = {'type': 'string', 'minLength': 1,
                                                         'maxLength': 255}
disable_log_reason = validation.strict_since_353(_DISABLE_LOG_REASON)

freeze_and_thaw = validation.strict_since_353({
    'type': 'object',
    'properties': {'cluster': nullable_string, 'host': hostname},
    'additionalProperties': False,
})

failover_host = validation.strict_since_353({
    'type': 'object',
    'properties': {'host': hostname, 'backend_id': nullable_string,
                   'cluster': nullable_string},
    'additionalProperties': False,
})

_name = {'type': 'string', 'minLength': 1, 'maxLength': 255}

enable_cluster = validation.strict_since_353({
    'type': 'object',
    'properties': {'name': _name, 'binary': nullable_string},
    'required': ['name'],
    'additionalProperties': False,
})

disable_cluster = validation.strict_since_353({
    'type': 'object',
    'properties': {'name': _name, 'binary': nullable_string,
                   'disabled_reason': {'type': ['string', 'null'], 'maxLength': 255}},
    'required': ['name'],
    'additionalProperties': False,
})

cleanup = validation.always({
    'type': ['object', 'null'],
    'properties': {
        'service_id': {'type': ['integer', 'string', 'null'], 'pattern': '^[0-9]+$'},
        'cluster_name': nullable_string,
        'host': nullable_string,
        'binary': nullable_string,
        'is_up': {'type': ['boolean', 'string', 'null']},
        'disabled': {'type': ['boolean', 'string', 'null']},
        'resource_id': nullable_string,
        'resource_type': nullable_string,
        'until': {'type': ['string', 'null']},
    },
    'additionalProperties': True,   # unknown keys get Cinder's "Invalid filter keys"
})
