"""Request bodies of volume and snapshot actions (POST /volumes|snapshots/{id}/action)."""

from blockstore.api.schemas import parameter_types as pt
from blockstore.api import validation


def _action(name, argument, required=True):
    return validation.strict_since_353({
        'type': 'object',
        'properties': {name: argument},
        'required': [name] if required else [],
        'additionalProperties': False,
    })


def _args(properties, required=()):
    return {'type': 'object', 'properties': properties, 'required': list(required),
            'additionalProperties': False}


_status = {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255}

reset_status = _action('os-reset_status', _args({
    'status': _status, 'attach_status': _status, 'migration_status': _status}))
snapshot_reset_status = _action('os-reset_status', _args({
    'status': {'type': 'string', 'minLength': 1, 'maxLength': 255}}, ['status']))
update_progress = _action('os-update_progress', {'type': 'string', 'maxLength': 255})
set_bootable = _action('os-set_bootable', _args({'bootable': pt.boolean}, ['bootable']))
update_readonly_flag = _action('os-update_readonly_flag',
                               _args({'readonly': pt.boolean}, ['readonly']))
set_image_metadata = _action('os-set_image_metadata',
                             _args({'metadata': pt.metadata}, ['metadata']))
unset_image_metadata = _action('os-unset_image_metadata', _args(
    {'key': {'type': 'string', 'minLength': 1, 'maxLength': 255}}, ['key']))
_no_argument = {'type': ['object', 'null'], 'maxProperties': 0}
show_image_metadata = validation.always({
    'type': 'object', 'properties': {'os-show_image_metadata': {'type': ['object', 'null']}},
    'required': ['os-show_image_metadata'], 'additionalProperties': False})
retype = _action('os-retype', _args({
    'new_type': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    'migration_policy': {'type': ['string', 'null'], 'enum': ['on-demand', 'never', None]},
}, ['new_type']))
revert = _action('revert', _args({'snapshot_id': pt.uuid}, ['snapshot_id']))
unmanage = validation.always({
    'type': 'object', 'properties': {'os-unmanage': {'type': ['object', 'null']}},
    'required': ['os-unmanage'], 'additionalProperties': False})
reimage = _action('os-reimage', _args({'image_id': pt.uuid,
                                       'reimage_reserved': pt.boolean}, ['image_id']))
extend_volume_completion = _action('os-extend_volume_completion',
                                   _args({'error': pt.boolean}, ['error']))

_UPLOAD = {
    'image_name': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    'force': pt.optional_boolean,
    'disk_format': {'type': 'string', 'enum': ['raw', 'vmdk', 'vdi', 'qcow2', 'vhd', 'vhdx',
                                               'ploop']},
    'container_format': {'type': 'string', 'enum': ['bare', 'ovf', 'aki', 'ari', 'ami', 'ova',
                                                    'docker', 'compressed']},
}
_UPLOAD_31 = dict(_UPLOAD, visibility={'type': 'string',
                                       'enum': ['public', 'private', 'community', 'shared']},
                  protected=pt.optional_boolean)
_upload_31 = {'type': 'object',
              'properties': {'os-volume_upload_image': _args(_UPLOAD_31, ['image_name'])},
              'required': ['os-volume_upload_image'], 'additionalProperties': False}
volume_upload_image = validation.Versioned({
    '3.0': validation.relaxed({
        'type': 'object',
        'properties': {'os-volume_upload_image': _args(_UPLOAD, ['image_name'])},
        'required': ['os-volume_upload_image'], 'additionalProperties': False}),
    '3.1': validation.relaxed(_upload_31),
    '3.53': _upload_31,
})

_host = {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255}
_MIGRATE = {'host': dict(_host, type='string'), 'force_host_copy': pt.optional_boolean,
            'lock_volume': pt.optional_boolean}
_migrate_316 = {'type': 'object', 'properties': {'os-migrate_volume': _args(
    dict(_MIGRATE, host=_host, cluster=_host))},
    'required': ['os-migrate_volume'], 'additionalProperties': False}
migrate_volume = validation.Versioned({
    '3.0': validation.relaxed({'type': 'object', 'properties': {
        'os-migrate_volume': _args(_MIGRATE, ['host'])},
        'required': ['os-migrate_volume'], 'additionalProperties': False}),
    '3.16': validation.relaxed(_migrate_316),
    '3.53': _migrate_316,
})
migrate_volume_completion = _action('os-migrate_volume_completion', _args(
    {'new_volume': pt.uuid, 'error': pt.optional_boolean}, ['new_volume']))

# Every action's body schema (for the OpenAPI document): name -> Versioned.
VOLUME_ACTIONS = {
    'os-reset_status': reset_status, 'os-set_bootable': set_bootable,
    'os-update_readonly_flag': update_readonly_flag,
    'os-set_image_metadata': set_image_metadata,
    'os-unset_image_metadata': unset_image_metadata,
    'os-show_image_metadata': show_image_metadata, 'os-retype': retype, 'revert': revert,
    'os-unmanage': unmanage, 'os-volume_upload_image': volume_upload_image,
    'os-migrate_volume': migrate_volume,
    'os-migrate_volume_completion': migrate_volume_completion,
    'os-reimage': reimage, 'os-extend_volume_completion': extend_volume_completion,
}
update_snapshot_status = _action('os-update_snapshot_status', _args({
    'status': {'type': 'string', 'minLength': 1, 'maxLength': 255},
    'progress': {'type': ['string', 'null'], 'maxLength': 255,
                 'pattern': '^(100|[0-9]{1,2})%$'}}, ['status']))
SNAPSHOT_ACTIONS = {
    'os-reset_status': snapshot_reset_status, 'os-update_progress': update_progress,
    'os-update_snapshot_status': update_snapshot_status,
    'os-unmanage': validation.always({
        'type': 'object', 'properties': {'os-unmanage': {'type': ['object', 'null']}},
        'required': ['os-unmanage'], 'additionalProperties': False}),
}
