"""Queries for volumes' image (Glance) metadata."""

import sqlalchemy as sa
from sqlalchemy import select

from blockstore.db.api import _reader, _writer
from blockstore.db import models

_IN_CHUNK = 500


def get(context, volume_id):
    g = models.VolumeGlanceMetadata
    with _reader(context) as session:
        return {k: v for k, v in session.execute(
            select(g.key, g.value).where(g.volume_id == volume_id).order_by(g.id))}


def get_many(context, volume_ids):
    """{volume_id: {key: value}} of the volumes that have image metadata."""
    g = models.VolumeGlanceMetadata
    found = {}
    ids = list(volume_ids)
    if not ids:
        return found
    stmt = select(g.volume_id, g.key, g.value).where(
        g.volume_id.in_(sa.bindparam('ids', expanding=True))).order_by(g.id)
    with _reader(context) as session:
        conn = session.connection()
        for start in range(0, len(ids), _IN_CHUNK):
            for vid, k, v in conn.execute(stmt, {'ids': ids[start:start + _IN_CHUNK]}).all():
                found.setdefault(vid, {})[k] = v
    return found


def update(context, volume_id, metadata):
    """Add or change keys; returns all of the volume's image metadata (writes first)."""
    g = models.VolumeGlanceMetadata
    with _writer(context) as session:
        for k, v in metadata.items():
            n = session.execute(sa.update(g).where(g.volume_id == volume_id, g.key == k)
                                .values(value=v, updated_at=models.utcnow())).rowcount
            if not n:
                session.add(g(volume_id=volume_id, key=k, value=v))
                session.flush()
        return {k: v for k, v in session.execute(
            select(g.key, g.value).where(g.volume_id == volume_id).order_by(g.id))}


def delete(context, volume_id, key):
    g = models.VolumeGlanceMetadata
    with _writer(context) as session:
        return session.execute(sa.delete(g).where(g.volume_id == volume_id,
                                                  g.key == key)).rowcount > 0


def copy(context, from_volume_id, to_volume_id):
    """Give a new volume its source's image metadata (clones, volumes from snapshots)."""
    g = models.VolumeGlanceMetadata
    with _writer(context) as session:
        rows = session.execute(select(g.key, g.value).where(
            g.volume_id == from_volume_id)).all()
        for k, v in rows:
            session.add(g(volume_id=to_volume_id, key=k, value=v))


def admin_metadata_set_if(context, volume_id, metadata, claim):
    """Set admin metadata keys if ``claim()`` (a guarded transition) wins, atomically."""
    a = models.VolumeAdminMetadata
    with _writer(context) as session:
        if not claim():
            return False
        existing = {m.key: m for m in session.query(a).filter(a.volume_id == volume_id)}
        for k, v in metadata.items():
            if k in existing:
                existing[k].value = v
            else:
                session.add(a(volume_id=volume_id, key=k, value=v))
    return True


def latest_snapshot(context, volume_id):
    """The volume's most recent live snapshot (as Cinder's revert picks it), or None."""
    s = models.Snapshot
    with _reader(context) as session:
        return session.query(s).filter(s.volume_id == volume_id, s.deleted.is_(False)).order_by(
            s.created_at.desc(), s.id.desc()).first()
