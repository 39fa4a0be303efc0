"""Volume type rows (soft-deleted, see ``models.VolumeType``) and their extra specs.

Part of the database API: import it as ``blockstore.db.api`` (which re-exports
these functions); the helpers it shares (transactions, locks) live there.
"""

from oslo_db import exception as db_exc
import sqlalchemy as sa
from sqlalchemy import exists, select, update

from blockstore.common import exception
from blockstore.db import models
from blockstore.db.api import _reader, _write_lock, _writer, new_uuid
from blockstore.db.models import utcnow


# ---------------------------------------------------------------------------
# Volume types
# ---------------------------------------------------------------------------

def volume_type_create(context, values, extra_specs=None):
    values = dict(values)
    values.setdefault('id', new_uuid())
    values['live_name'] = values.get('name')
    vt = models.VolumeType(**values)
    vt.extra_specs = [models.VolumeTypeExtraSpec(key=k, value=v)
                      for k, v in (extra_specs or {}).items()]
    try:
        with _writer(context) as session:
            session.add(vt)
    except db_exc.DBDuplicateEntry:
        raise exception.VolumeTypeExists(name=values.get('name'))
    return vt


def volume_type_get(context, type_id, read_deleted=False):
    with _reader(context) as session:
        vt = session.get(models.VolumeType, type_id)
    if vt is None or (vt.deleted and not read_deleted):
        raise exception.VolumeTypeNotFound(volume_type_id=type_id)
    return vt


def volume_type_get_by_name(context, name):
    with _reader(context) as session:
        vt = session.query(models.VolumeType).filter_by(live_name=name).first()
    if vt is None:
        raise exception.VolumeTypeNotFoundByName(volume_type_name=name)
    return vt


def volume_type_is_live(context, type_id):
    """Whether the type exists and is not deleted (one indexed read, no extra specs)."""
    vt = models.VolumeType
    with _reader(context) as session:
        return session.execute(select(vt.id).where(vt.id == type_id, vt.deleted == sa.false())
                               ).first() is not None


def volume_type_get_default(context, project_id, name):
    """The live default type of a project (3.62), else the live type named ``name``.

    One transaction (the create path asked for the project's default row, then
    for the type by id or name, each in its own); None when neither exists.
    """
    vt, d = models.VolumeType, models.DefaultVolumeType
    with _reader(context) as session:
        if project_id is not None:
            row = session.query(vt).join(d, d.volume_type_id == vt.id).filter(
                d.project_id == project_id, vt.deleted == sa.false()).first()
            if row is not None:
                return row
        return session.query(vt).filter_by(live_name=name).first()


def volume_type_get_all(context, is_public=None):
    with _reader(context) as session:
        q = session.query(models.VolumeType).filter_by(deleted=False)
        if is_public is not None:
            q = q.filter_by(is_public=is_public)
        return q.order_by(models.VolumeType.name).all()


def volume_type_update(context, type_id, values):
    values = dict(values)
    if 'name' in values:
        values['live_name'] = values['name']
    try:
        with _writer(context) as session:
            n = session.query(models.VolumeType).filter_by(id=type_id, deleted=False).update(
                values, synchronize_session=False)
    except db_exc.DBDuplicateEntry:
        raise exception.VolumeTypeExists(name=values.get('name'))
    if not n:
        raise exception.VolumeTypeNotFound(volume_type_id=type_id)


def volume_type_destroy(context, type_id):
    """Soft-delete a type no live volume or snapshot uses; False if it is in use.

    One conditional UPDATE, so a type cannot be deleted while a volume of it
    is being created (the volume's row exists from the start of its create).
    """
    vt = models.VolumeType
    in_use = sa.or_(
        exists().where(models.Volume.volume_type_id == vt.id, models.Volume.deleted == sa.false()),
        exists().where(models.Snapshot.volume_type_id == vt.id,
                       models.Snapshot.deleted == sa.false()))
    with _writer(context) as session:
        n = session.execute(update(vt).where(vt.id == type_id, vt.deleted == sa.false(), ~in_use)
                            .values(deleted=True, deleted_at=utcnow(), live_name=None)
                            .execution_options(synchronize_session=False)).rowcount
    if not n:
        volume_type_get(context, type_id)  # raises NotFound if it is gone
        return False
    return True


def volume_type_extra_specs_update(context, type_id, specs, delete_keys=()):
    with _writer(context) as session:
        _write_lock(session, models.VolumeType, type_id)
        vt = session.get(models.VolumeType, type_id)
        if vt is None:
            raise exception.VolumeTypeNotFound(volume_type_id=type_id)
        current = {s.key: s for s in vt.extra_specs}
        for key in delete_keys:
            if key in current:
                vt.extra_specs.remove(current.pop(key))
        for key, value in specs.items():
            if key in current:
                current[key].value = value
            else:
                vt.extra_specs.append(models.VolumeTypeExtraSpec(key=key, value=value))
    return vt


