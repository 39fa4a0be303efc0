"""Request bodies of the attachments API (3.27+) and the legacy attach actions."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.common import idempotency
from blockstore.api import validation

connector = {'type': ['object', 'null']}
_mode = {'type': 'string', 'enum': ['rw', 'ro']}

create = validation.strict_since_353({
    'type': 'object',
    'properties': {'attachment': {
        'type': 'object',
        'properties': {
            'volume_uuid': pt.uuid,
            'instance_uuid': pt.optional_uuid,
            'connector': connector,
            'mode': _mode,
            'client_token': idempotency.SCHEMA,
        },
        'required': ['volume_uuid'],
        'additionalProperties': False,
    }},
    'required': ['attachment'],
    'additionalProperties': False,
})

update = validation.strict_since_353({
    'type': 'object',
    'properties': {'attachment': {
        'type': 'object',
        'properties': {'connector': {'type': 'object'}},
        'required': ['connector'],
        'additionalProperties': False,
    }},
    'required': ['attachment'],
    'additionalProperties': False,
})

complete = validation.always({
    'type': 'object',
    # cinderclient sends null, openstacksdk the attachment's id.
    'properties': {'os-complete': {'type': ['object', 'null', 'string']}},
    'required': ['os-complete'],
    'additionalProperties': False,
})


def _action(name, properties=None, required=()):
    arg = {'type': ['object', 'null']} if properties is None else {
        'type': 'object', 'properties': properties, 'required': list(required),
        'additionalProperties': False}
    return validation.strict_since_353({
        'type': 'object', 'properties': {name: arg}, 'required': [name],
        'additionalProperties': False})


_name = {'type': ['string', 'null'], 'maxLength': 255}
reserve = _action('os-reserve')
unreserve = _action('os-unreserve')
begin_detaching = _action('os-begin_detaching')
roll_detaching = _action('os-roll_detaching')
attach = _action('os-attach', {
    'instance_uuid': pt.optional_uuid, 'mountpoint': _name, 'host_name': _name,
    'mode': _mode}, ['mountpoint'])
detach = _action('os-detach', {'attachment_id': pt.optional_uuid})
force_detach = _action('os-force_detach', {'attachment_id': pt.optional_uuid,
                                           'connector': connector})

LEGACY_ACTIONS = {
    'os-reserve': reserve, 'os-unreserve': unreserve, 'os-begin_detaching': begin_detaching,
    'os-roll_detaching': roll_detaching, 'os-attach': attach, 'os-detach': detach,
    'os-force_detach': force_detach,
}

# POST /attachments/reclaim (not in Cinder): the caller asserts the host is dead.
reclaim = validation.always({
    'type': 'object',
    'properties': {
        'host': {'type': 'string', 'minLength': 1, 'maxLength': 255},
        'confirm_dead': pt.boolean,
    },
    'required': ['host', 'confirm_dead'],
    'additionalProperties': False,
})
