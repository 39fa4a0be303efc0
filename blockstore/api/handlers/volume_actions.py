"""Volume and snapshot actions: reset status, flags, image metadata, retype, revert, unmanage.

Their entries (name -> ``actions.Action``, with the versions that serve it)
are part of the action tables of ``volumes`` and ``snapshots``.
"""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import parameter_types as pt
from blockstore.api.schemas import volume_actions as schemas
from blockstore.api.views import fields as F
from blockstore.common import exception
from blockstore.objects import states
from blockstore.volume import volume_types

ADMIN = 'volume_extension:volume_admin_actions:'
SNAPSHOT_ADMIN = 'volume_extension:snapshot_admin_actions:'


def _validate(req, schema, body):
    return schema.validate(body, common.version(req))


def _volume(req, action=None):
    """The URL's volume (404 for another project's), after checking ``action`` on it."""
    volume = common.volume_api(req).get(common.context(req), req.urlvars['volume_id'])
    if action:
        common.authorize(req, action, volume)
    return volume


def _snapshot(req):
    return common.volume_api(req).get_snapshot(common.context(req),
                                               req.urlvars['snapshot_id'])


def _one_of(value, allowed, what):
    value = value.lower()
    if value not in allowed:
        raise exception.Invalid('Must specify a valid %s' % what)
    return value


# -- volumes -----------------------------------------------------------------------

def reset_status(req, body):
    ctx = common.require_admin(req, ADMIN + 'reset_status')
    args = _validate(req, schemas.reset_status, body)['os-reset_status'] or {}
    status, attach, migration = (args.get('status'), args.get('attach_status'),
                                 args.get('migration_status'))
    if not (status or attach or migration):
        raise exception.Invalid("Must specify 'status', 'attach_status' or 'migration_status' "
                                "for update.")
    volume = _volume(req)
    common.volume_api(req).actions.reset_status(
        ctx, volume,
        status=_one_of(status, states.VOLUME_RESET_STATES, 'status') if status else None,
        attach_status=(_one_of(attach, states.VOLUME_ATTACH_STATES, 'attach status')
                       if attach else None),
        migration_status=(_one_of(migration, states.VOLUME_MIGRATION_STATES,
                                  'migration status') if migration else None))
    return common.empty_response(202)


def set_bootable(req, body):
    args = _validate(req, schemas.set_bootable, body)['os-set_bootable']
    volume = _volume(req, 'volume_extension:volume_actions:set_bootable')
    common.volume_api(req).actions.set_bootable(common.context(req), volume,
                                                pt.bool_value(args['bootable']))
    return common.empty_response(200)


def update_readonly_flag(req, body):
    args = _validate(req, schemas.update_readonly_flag, body)['os-update_readonly_flag']
    volume = _volume(req, 'volume:update_readonly_flag')
    common.volume_api(req).actions.update_readonly_flag(common.context(req), volume,
                                                        pt.bool_value(args['readonly']))
    return common.empty_response(202)


def set_image_metadata(req, body):
    args = _validate(req, schemas.set_image_metadata, body)['os-set_image_metadata']
    volume = _volume(req, 'volume_extension:volume_image_metadata:set')
    md = common.volume_api(req).actions.set_image_metadata(common.context(req), volume,
                                                           args['metadata'])
    return common.json_response({'metadata': md})


def unset_image_metadata(req, body):
    args = _validate(req, schemas.unset_image_metadata, body)['os-unset_image_metadata']
    volume = _volume(req, 'volume_extension:volume_image_metadata:remove')
    common.volume_api(req).actions.unset_image_metadata(common.context(req), volume, args['key'])
    return common.empty_response(200)


def show_image_metadata(req, body):
    _validate(req, schemas.show_image_metadata, body)
    volume = _volume(req, 'volume_extension:volume_image_metadata:show')
    md = common.volume_api(req).actions.get_image_metadata(common.context(req), volume)
    return common.json_response({'metadata': md})


def retype(req, body):
    args = _validate(req, schemas.retype, body)['os-retype']
    volume = _volume(req, 'volume:retype')
    common.volume_api(req).actions.retype(common.context(req), volume, args['new_type'],
                                          args.get('migration_policy') or 'never')
    return common.empty_response(202)


def revert(req, body):
    """revert (3.40): to the volume's latest snapshot; state conflicts are 409s, as Cinder."""
    args = _validate(req, schemas.revert, body)['revert']
    volume = _volume(req, 'volume:revert_to_snapshot')
    try:
        common.volume_api(req).actions.revert_to_snapshot(common.context(req), volume,
                                                          args['snapshot_id'])
    except (exception.InvalidVolume, exception.InvalidSnapshot) as e:
        raise exception.Conflict(reason=e.msg)
    return common.empty_response(202)


def unmanage(req, body):
    ctx = common.require_admin(req, 'volume_extension:volume_unmanage')
    _validate(req, schemas.unmanage, body)
    volume = _volume(req)
    common.volume_api(req).manage.unmanage(ctx, volume)
    return common.empty_response(202)


def reimage(req, body):
    """os-reimage (3.68) {"image_id", "reimage_reserved"}: 202, the volume downloading."""
    args = _validate(req, schemas.reimage, body)['os-reimage']
    reserved = pt.bool_value(args.get('reimage_reserved', False))
    volume = _volume(req, 'volume:reimage')
    if reserved:
        common.authorize(req, 'volume:reimage_reserved', volume)
    common.volume_api(req).images.reimage(common.context(req), volume, args['image_id'], reserved)
    return common.empty_response(202)


def extend_volume_completion(req, body):
    """os-extend_volume_completion (3.71) {"error": bool}: compute ends an attached extend."""
    args = _validate(req, schemas.extend_volume_completion,
                     body)['os-extend_volume_completion']
    volume = _volume(req, ADMIN + 'extend_volume_completion')
    common.volume_api(req).extend.extend_volume_completion(common.context(req), volume,
                                                           pt.bool_value(args['error']))
    return common.empty_response(202)


def _upload_view(ctx, volume, image, with_visibility):
    """Cinder's os-volume_upload_image answer."""
    vtype = None
    if volume.volume_type_id:
        try:
            t = volume_types.get(ctx, volume.volume_type_id)
            vtype = {'id': t.id, 'name': t.name, 'description': t.description,
                     'is_public': t.is_public, 'extra_specs': dict(t.extra_specs),
                     'qos_specs_id': t.qos_specs_id, 'deleted': False}
        except exception.NotFound:
            vtype = None
    body = {'id': volume.id, 'updated_at': F.format_time(volume.updated_at),
            'status': states.UPLOADING,
            'display_description': volume.display_description, 'size': volume.size,
            'volume_type': vtype, 'image_id': image['id'],
            'container_format': image.get('container_format'),
            'disk_format': image.get('disk_format'), 'image_name': image.get('name')}
    if with_visibility:
        body['visibility'] = image.get('visibility')
        body['protected'] = image.get('protected')
    return {'os-volume_upload_image': body}


def volume_upload_image(req, body):
    """os-volume_upload_image: 202 with Cinder's answer; the volume is uploading."""
    args = _validate(req, schemas.volume_upload_image, body)['os-volume_upload_image']
    volume = _volume(req, 'volume_extension:volume_actions:upload_image')
    ctx = common.context(req)
    force = pt.bool_value(args.get('force', False))
    visibility = protected = None
    with_visibility = common.version(req) >= mv.UPLOAD_VISIBILITY
    if with_visibility:
        visibility = args.get('visibility')
        if visibility == 'public':
            common.authorize(req, 'volume_extension:volume_actions:upload_public', volume)
        protected = (pt.bool_value(args['protected'])
                     if args.get('protected') is not None else None)
    api = common.volume_api(req)
    image = api.images.copy_volume_to_image(
        ctx, volume, args['image_name'], force=force,
        disk_format=args.get('disk_format') or 'raw',
        container_format=args.get('container_format') or 'bare',
        visibility=visibility, protected=protected)
    volume = api.get(ctx, volume.id)
    return common.json_response(_upload_view(ctx, volume, image, with_visibility),
                                status=202)


def migrate_volume(req, body):
    """Admin: body and volume checked, then refused with the reason (see volume/migration)."""
    ctx = common.require_admin(req, ADMIN + 'migrate_volume')
    args = _validate(req, schemas.migrate_volume, body)['os-migrate_volume']
    host = args.get('host')
    cluster = args.get('cluster') if common.version(req) >= mv.MIGRATE_CLUSTER else None
    common.volume_api(req).migration.migrate_volume(
        ctx, _volume(req), host=host, cluster=cluster,
        force_host_copy=pt.bool_value(args.get('force_host_copy')),
        lock_volume=pt.bool_value(args.get('lock_volume')))
    return common.empty_response(202)


def migrate_volume_completion(req, body):
    ctx = common.require_admin(req, ADMIN + 'migrate_volume_completion')
    args = _validate(req, schemas.migrate_volume_completion,
                     body)['os-migrate_volume_completion']
    volume = _volume(req)
    new_volume = common.volume_api(req).get(ctx, args['new_volume'])
    saved = common.volume_api(req).migration.migrate_volume_completion(
        ctx, volume, new_volume, pt.bool_value(args.get('error')))
    return common.json_response({'save_volume_id': saved})


VOLUME_ACTIONS = {
    'os-reset_status': actions.Action(reset_status),
    'os-set_bootable': actions.Action(set_bootable),
    'os-update_readonly_flag': actions.Action(update_readonly_flag),
    'os-set_image_metadata': actions.Action(set_image_metadata),
    'os-unset_image_metadata': actions.Action(unset_image_metadata),
    'os-show_image_metadata': actions.Action(show_image_metadata),
    'os-retype': actions.Action(retype),
    'revert': actions.Action(revert, since=mv.VOLUME_REVERT),
    'os-unmanage': actions.Action(unmanage),
    'os-volume_upload_image': actions.Action(volume_upload_image),
    'os-migrate_volume': actions.Action(migrate_volume),
    'os-migrate_volume_completion': actions.Action(migrate_volume_completion),
    'os-reimage': actions.Action(reimage, since=mv.REIMAGE),
    'os-extend_volume_completion': actions.Action(extend_volume_completion,
                                                  since=mv.EXTEND_COMPLETION),
}


# -- snapshots ------------------------------------------------------------------------

def snapshot_reset_status(req, body):
    ctx = common.require_admin(req, SNAPSHOT_ADMIN + 'reset_status')
    args = _validate(req, schemas.snapshot_reset_status, body)['os-reset_status']
    status = _one_of(args['status'], states.SNAPSHOT_RESET_STATES, 'status')
    snapshot = _snapshot(req)
    common.volume_api(req).actions.reset_snapshot_status(ctx, snapshot, status)
    return common.empty_response(202)


def snapshot_update_progress(req, body):
    ctx = common.require_admin(req, SNAPSHOT_ADMIN + 'update_progress')
    progress = _validate(req, schemas.update_progress, body)['os-update_progress']
    snapshot = _snapshot(req)
    common.volume_api(req).actions.update_snapshot_progress(ctx, snapshot, progress)
    return common.empty_response(202)


def snapshot_unmanage(req, body):
    ctx = common.require_admin(req, 'volume_extension:snapshot_unmanage')
    _validate(req, schemas.SNAPSHOT_ACTIONS['os-unmanage'], body)
    snapshot = _snapshot(req)
    common.volume_api(req).manage.unmanage_snapshot(ctx, snapshot)
    return common.empty_response(202)


def snapshot_update_status(req, body):
    """os-update_snapshot_status (a compute host reporting an assisted snapshot)."""
    args = _validate(req, schemas.update_snapshot_status, body)['os-update_snapshot_status']
    snapshot = _snapshot(req)
    ctx = common.authorize(req, 'snapshot_extension:snapshot_actions:update_snapshot_status',
                           snapshot)
    common.volume_api(req).actions.update_snapshot_status(ctx, snapshot, args['status'],
                                                          args.get('progress'))
    return common.empty_response(202)


SNAPSHOT_ACTIONS = {
    'os-update_snapshot_status': actions.Action(snapshot_update_status),
    'os-reset_status': actions.Action(snapshot_reset_status),
    'os-update_progress': actions.Action(snapshot_update_progress),
    'os-unmanage': actions.Action(snapshot_unmanage),
}
