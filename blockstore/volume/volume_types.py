"""Volume types: the service layer for types and their extra specs."""

from oslo_config import cfg

from blockstore.common import exception
from blockstore.db import api as db
from blockstore import objects


import blockstore.common.conf  # noqa: F401,E402  (registers options)

objects.register_all()
CONF = cfg.CONF

DEFAULT_TYPE_DESCRIPTION = 'Default Volume Type'


def _obj(ctx, row):
    return objects.VolumeType.from_db(ctx, row)


def ensure_default_type(ctx):
    """Create the configured default type if it does not exist (idempotent)."""
    name = CONF.default_volume_type
    try:
        return get_by_name(ctx, name)
    except exception.VolumeTypeNotFound:
        try:
            return _obj(ctx, db.volume_type_create(
                ctx, {'name': name, 'description': DEFAULT_TYPE_DESCRIPTION,
                      'is_public': True}))
        except exception.VolumeTypeExists:
            return get_by_name(ctx, name)


def get_default(ctx):
    try:
        return get_by_name(ctx, CONF.default_volume_type)
    except exception.VolumeTypeNotFound:
        return ensure_default_type(ctx)


def get(ctx, type_id):
    return _obj(ctx, db.volume_type_get(ctx, type_id))


def get_by_name(ctx, name):
    return _obj(ctx, db.volume_type_get_by_name(ctx, name))


def get_by_name_or_id(ctx, name_or_id):
    """Look a type up by id first, then by name (as Cinder's API does)."""
    try:
        return get(ctx, name_or_id)
    except exception.VolumeTypeNotFound:
        try:
            return get_by_name(ctx, name_or_id)
        except exception.VolumeTypeNotFound:
            raise exception.VolumeTypeNotFound(volume_type_id=name_or_id)


def get_all(ctx, is_public=None):
    """Types visible to ctx: admins see private ones too."""
    if not ctx.is_admin and is_public is None:
        is_public = True
    return [_obj(ctx, r) for r in db.volume_type_get_all(ctx, is_public=is_public)]


def create(ctx, name, description=None, is_public=True, extra_specs=None):
    return _obj(ctx, db.volume_type_create(
        ctx, {'name': name, 'description': description, 'is_public': is_public},
        extra_specs or {}))


def update(ctx, type_id, name=None, description=None, is_public=None):
    values = {k: v for k, v in (('name', name), ('description', description),
                                ('is_public', is_public)) if v is not None}
    if values:
        db.volume_type_update(ctx, type_id, values)
    return get(ctx, type_id)


def delete(ctx, type_id):
    vt = get(ctx, type_id)
    if vt.name == CONF.default_volume_type:
        raise exception.InvalidVolumeType(reason='the default volume type cannot be deleted')
    if not db.volume_type_destroy(ctx, type_id):
        raise exception.InvalidVolumeType(reason='volume type %s is in use by volumes' % type_id)


def update_extra_specs(ctx, type_id, specs):
    return _obj(ctx, db.volume_type_extra_specs_update(ctx, type_id, specs)).extra_specs


def delete_extra_spec(ctx, type_id, key):
    vt = get(ctx, type_id)
    if key not in vt.extra_specs:
        raise exception.NotFound('Volume type extra spec %s could not be found.' % key)
    db.volume_type_extra_specs_update(ctx, type_id, {}, delete_keys=[key])
