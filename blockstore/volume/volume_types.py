"""Volume types: the service layer for types, their extra specs, access, defaults and encryption.

Private types are visible only to administrators and to the projects granted
access (``add_access``); for anyone else they do not exist (404).
"""

from oslo_config import cfg

from blockstore.common import exception
from blockstore.db import api as db
from blockstore.db import encryption as db_encryption
from blockstore.db import type_access as db_access
from blockstore import objects


import blockstore.common.conf  # noqa: F401,E402  (registers options)

objects.register_all()
CONF = cfg.CONF

DEFAULT_TYPE_DESCRIPTION = 'Default Volume Type'
CONTROL_LOCATIONS = ('front-end', 'back-end')


class VolumeTypeAccessNotFound(exception.NotFound):
    msg_fmt = ('Volume type access not found for %(volume_type_id)s / %(project_id)s '
               'combination.')


class VolumeTypeAccessExists(exception.Conflict):
    msg_fmt = ('Volume type access for %(volume_type_id)s / %(project_id)s combination '
               'already exists.')


class DefaultTypeNotFound(exception.NotFound):
    msg_fmt = 'Default type for project %(project_id)s not found.'


class VolumeTypeEncryptionExists(exception.Invalid):
    msg_fmt = 'Volume type encryption for type %(type_id)s already exists.'


class VolumeTypeEncryptionNotFound(exception.NotFound):
    msg_fmt = 'Volume type encryption for type %(type_id)s does not exist.'


def _obj(ctx, row):
    return objects.VolumeType.from_db(ctx, row)


def _visible(ctx, row):
    return (row.is_public or ctx.is_admin
            or (ctx.project_id is not None
                and db_access.has_access(ctx, row.id, ctx.project_id)))


def ensure_default_type(ctx):
    """Create the configured default type if it does not exist (idempotent)."""
    name = CONF.default_volume_type
    try:
        return _obj(ctx, db.volume_type_get_by_name(ctx, name))
    except exception.VolumeTypeNotFound:
        try:
            return _obj(ctx, db.volume_type_create(
                ctx, {'name': name, 'description': DEFAULT_TYPE_DESCRIPTION,
                      'is_public': True}))
        except exception.VolumeTypeExists:
            return _obj(ctx, db.volume_type_get_by_name(ctx, name))


def get_default(ctx):
    """The caller's project default type (3.62), else the configured default type."""
    row = db.volume_type_get_default(ctx, ctx.project_id, CONF.default_volume_type)
    if row is not None:
        return _obj(ctx, row)
    return ensure_default_type(ctx)


def get(ctx, type_id):
    """A type the caller may see; VolumeTypeNotFound otherwise."""
    row = db.volume_type_get(ctx, type_id)
    if not _visible(ctx, row):
        raise exception.VolumeTypeNotFound(volume_type_id=type_id)
    return _obj(ctx, row)


def get_by_name(ctx, name):
    row = db.volume_type_get_by_name(ctx, name)
    if not _visible(ctx, row):
        raise exception.VolumeTypeNotFoundByName(volume_type_name=name)
    return _obj(ctx, row)


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
    """Types visible to ctx, as Cinder lists them.

    Non-admins see public types and the private ones their project may use.
    Admins choose: ``is_public`` True (public, and private ones granted to their
    project), False (private only) or None (all).
    """
    if not ctx.is_admin:
        is_public = True
    return [_obj(ctx, r) for r in db_access.volume_type_get_all(
        ctx, is_public=is_public, project_id=ctx.project_id)]


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
    defaults = db_access.default_type_get_all(ctx, volume_type_id=type_id)
    if defaults:
        raise exception.InvalidVolumeType(
            reason='volume type %s is the default type of project(s) %s' % (
                type_id, ', '.join(d.project_id for d in defaults)))
    if not db.volume_type_destroy(ctx, type_id):
        raise exception.InvalidVolumeType(reason='volume type %s is in use by volumes' % type_id)


def update_extra_specs(ctx, type_id, specs):
    return _obj(ctx, db.volume_type_extra_specs_update(ctx, type_id, specs)).extra_specs


def delete_extra_spec(ctx, type_id, key):
    vt = get(ctx, type_id)
    if key not in vt.extra_specs:
        raise exception.NotFound('Volume type extra spec %s could not be found.' % key)
    db.volume_type_extra_specs_update(ctx, type_id, {}, delete_keys=[key])


# -- access to private types ----------------------------------------------------

def _private(ctx, type_id):
    vt = get(ctx, type_id)
    if vt.is_public:
        raise exception.InvalidVolumeType(
            reason='Type access modification is not applicable to public volume type.')
    return vt


def access_list(ctx, type_id):
    """Projects granted a private type; 404 for a public one (as Cinder)."""
    vt = get(ctx, type_id)
    if vt.is_public:
        raise exception.NotFound('Access list not available for public volume types.')
    return db_access.access_list(ctx, vt.id)


def add_access(ctx, type_id, project_id):
    vt = _private(ctx, type_id)
    if not db_access.access_add(ctx, vt.id, project_id):
        raise VolumeTypeAccessExists(volume_type_id=vt.id, project_id=project_id)


def remove_access(ctx, type_id, project_id):
    vt = _private(ctx, type_id)
    if not db_access.access_remove(ctx, vt.id, project_id):
        raise VolumeTypeAccessNotFound(volume_type_id=vt.id, project_id=project_id)


# -- per-project default types (3.62) ---------------------------------------------

def set_default(ctx, project_id, type_name_or_id):
    vt = get_by_name_or_id(ctx, type_name_or_id)
    return db_access.default_type_set(ctx, project_id, vt.id)


def get_project_default(ctx, project_id):
    row = db_access.default_type_get(ctx, project_id)
    if row is None:
        raise DefaultTypeNotFound(project_id=project_id)
    return row


def get_all_defaults(ctx):
    return db_access.default_type_get_all(ctx)


def unset_default(ctx, project_id):
    if not db_access.default_type_unset(ctx, project_id):
        raise DefaultTypeNotFound(project_id=project_id)


# -- encryption ----------------------------------------------------------------------

def get_encryption(ctx, type_id):
    """The type's encryption row, or None (404 if the type is not visible)."""
    vt = get(ctx, type_id)
    return db_encryption.get(ctx, vt.id)


def volume_encryption_metadata(ctx, volume):
    """What an attaching host needs to open an encrypted volume (Cinder's shape).

    ``encryption_key_id`` always; the type's provider, cipher, key size and
    control location when the volume's type is encrypted.
    """
    found = {'encryption_key_id': volume.encryption_key_id}
    spec = db_encryption.get(ctx, volume.volume_type_id)
    if spec is not None:
        found.update((f, getattr(spec, f)) for f in db_encryption.FIELDS)
    return found


def is_encrypted(ctx, type_id):
    return db_encryption.get(ctx, type_id) is not None


def _refuse_in_use(ctx, type_id, what):
    if db_encryption.type_in_use(ctx, type_id):
        raise exception.Invalid('Cannot %s encryption specs. Volume type in use.' % what)


def create_encryption(ctx, type_id, values):
    vt = get(ctx, type_id)
    _refuse_in_use(ctx, vt.id, 'create')
    if db_encryption.create(ctx, vt.id, values) is None:
        raise VolumeTypeEncryptionExists(type_id=vt.id)
    return db_encryption.get(ctx, vt.id)


def update_encryption(ctx, type_id, values):
    vt = get(ctx, type_id)
    _refuse_in_use(ctx, vt.id, 'update')
    if not db_encryption.update(ctx, vt.id, values):
        raise VolumeTypeEncryptionNotFound(type_id=vt.id)
    return db_encryption.get(ctx, vt.id)


def delete_encryption(ctx, type_id):
    vt = get(ctx, type_id)
    _refuse_in_use(ctx, vt.id, 'delete')
    if not db_encryption.delete(ctx, vt.id):
        raise VolumeTypeEncryptionNotFound(type_id=vt.id)
