"""Request bodies of the backup API (Cinder's shapes)."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.common import idempotency
from blockstore.api import validation


def _body(key, properties, required=(), nullable=False):
    return {
        'type': 'object',
        'properties': {key: {'type': ['object', 'null'] if nullable else 'object',
                             'properties': properties, 'required': list(required),
                             'additionalProperties': False}},
        'required': [key],
        'additionalProperties': False,
    }


_CREATE = {
    'volume_id': pt.uuid,
    'container': {'type': ['string', 'null'], 'maxLength': 255},
    'description': pt.description,
    'incremental': pt.optional_boolean,
    'force': pt.optional_boolean,
    'name': pt.name_allow_zero_min_length,
    'snapshot_id': pt.optional_uuid,
    # Ours, as for volumes and snapshots (README: idempotent create).
    'client_token': idempotency.SCHEMA,
}
_CREATE_343 = dict(_CREATE, metadata=pt.metadata_allows_null)
_CREATE_351 = dict(_CREATE_343, availability_zone=pt.availability_zone)

create = validation.Versioned({
    '3.0': validation.relaxed(_body('backup', _CREATE, ['volume_id'])),
    '3.43': validation.relaxed(_body('backup', _CREATE_343, ['volume_id'])),
    '3.51': validation.relaxed(_body('backup', _CREATE_351, ['volume_id'])),
    '3.53': _body('backup', _CREATE_351, ['volume_id']),
})

_UPDATE = {'name': pt.name_allow_zero_min_length, 'description': pt.description}
update = validation.Versioned({
    '3.0': validation.relaxed(_body('backup', _UPDATE, nullable=True)),
    '3.43': validation.relaxed(_body('backup', dict(_UPDATE, metadata=pt.metadata_allows_null),
                                     nullable=True)),
    '3.53': _body('backup', dict(_UPDATE, metadata=pt.metadata_allows_null), nullable=True),
})

restore = validation.strict_since_353(_body(
    'restore', {'volume_id': pt.optional_uuid, 'name': pt.name_allow_zero_min_length},
    nullable=True))

# Cinder's parameter types: a store name, and the base64 record export_record gave.
_BACKUP_SERVICE = {'type': 'string', 'minLength': 0, 'maxLength': 255}
_BACKUP_URL = {'type': 'string', 'minLength': 1, 'format': 'base64'}
import_record = validation.strict_since_353(_body(
    'backup-record', {'backup_service': _BACKUP_SERVICE, 'backup_url': _BACKUP_URL},
    ['backup_service', 'backup_url']))

reset_status = validation.strict_since_353(_body(
    'os-reset_status', {'status': {'type': 'string', 'minLength': 1, 'maxLength': 255}},
    ['status']))
force_delete = validation.always({
    'type': 'object', 'properties': {'os-force_delete': {'type': ['object', 'null']}},
    'required': ['os-force_delete'], 'additionalProperties': False})

ACTIONS = {'os-reset_status': reset_status, 'os-force_delete': force_delete}
