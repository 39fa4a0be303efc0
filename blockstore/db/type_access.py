"""Queries for private volume type access and per-project default types (3.62)."""

from oslo_db import exception as db_exc
import sqlalchemy as sa
from sqlalchemy import exists, select

from blockstore.db.api import _reader, _writer
from blockstore.db import models


def _access_exists(project_id):
    p = models.VolumeTypeProject
    return exists().where(p.volume_type_id == models.VolumeType.id, p.project_id == project_id)


def volume_type_get_all(context, is_public=None, project_id=None):
    """Live types; ``is_public`` True also takes private ones ``project_id`` may use."""
    vt = models.VolumeType
    with _reader(context) as session:
        q = session.query(vt).filter(vt.deleted.is_(False))
        if is_public is True and project_id is not None:
            q = q.filter(sa.or_(vt.is_public.is_(True), _access_exists(project_id)))
        elif is_public is not None:
            q = q.filter(vt.is_public.is_(bool(is_public)))
        return q.order_by(vt.name).all()


def has_access(context, type_id, project_id):
    p = models.VolumeTypeProject
    with _reader(context) as session:
        return session.execute(select(p.id).where(
            p.volume_type_id == type_id, p.project_id == project_id)).first() is not None


def access_list(context, type_id):
    p = models.VolumeTypeProject
    with _reader(context) as session:
        return [r[0] for r in session.execute(
            select(p.project_id).where(p.volume_type_id == type_id).order_by(p.id))]


def access_add(context, type_id, project_id):
    """Grant access; False if the project already had it."""
    try:
        with _writer(context) as session:
            session.add(models.VolumeTypeProject(volume_type_id=type_id, project_id=project_id))
    except db_exc.DBDuplicateEntry:
        return False
    return True


def access_remove(context, type_id, project_id):
    """Revoke access; False if the project did not have it."""
    p = models.VolumeTypeProject
    with _writer(context) as session:
        return session.execute(sa.delete(p).where(
            p.volume_type_id == type_id, p.project_id == project_id)).rowcount > 0


# -- default types ------------------------------------------------------------

def default_type_get(context, project_id):
    """The default-type row of a project, or None."""
    with _reader(context) as session:
        return session.get(models.DefaultVolumeType, project_id)


def default_type_get_all(context, volume_type_id=None):
    d = models.DefaultVolumeType
    with _reader(context) as session:
        q = session.query(d)
        if volume_type_id is not None:
            q = q.filter(d.volume_type_id == volume_type_id)
        return q.order_by(d.project_id).all()


def default_type_set(context, project_id, volume_type_id):
    """Create or replace a project's default type; returns the row.

    Writes first (UPDATE, then INSERT if there was nothing to update): a
    transaction that reads before it writes cannot be upgraded on SQLite
    while another writer runs.
    """
    d = models.DefaultVolumeType
    for _ in range(5):
        try:
            with _writer(context) as session:
                n = session.execute(sa.update(d).where(d.project_id == project_id).values(
                    volume_type_id=volume_type_id, updated_at=models.utcnow())).rowcount
                if not n:
                    session.add(d(project_id=project_id, volume_type_id=volume_type_id))
                    session.flush()
                return session.get(d, project_id)
        except db_exc.DBDuplicateEntry:
            continue  # a concurrent first set of the same project: update it instead
    raise db_exc.DBError('could not set the default type of %s' % project_id)


def default_type_unset(context, project_id):
    d = models.DefaultVolumeType
    with _writer(context) as session:
        return session.execute(sa.delete(d).where(d.project_id == project_id)).rowcount > 0
