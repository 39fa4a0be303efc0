"""Queries for volume type encryption specs."""

from oslo_db import exception as db_exc
import sqlalchemy as sa
from sqlalchemy import exists, select

from blockstore.db.api import _reader, _writer, new_uuid
from blockstore.db import models

FIELDS = ('provider', 'cipher', 'key_size', 'control_location')


def get(context, type_id):
    """The encryption row of a type, or None."""
    e = models.VolumeTypeEncryption
    with _reader(context) as session:
        return session.query(e).filter(e.volume_type_id == type_id).first()


def encrypted_type_ids(context, type_ids):
    e = models.VolumeTypeEncryption
    if not type_ids:
        return set()
    with _reader(context) as session:
        return {r[0] for r in session.execute(
            select(e.volume_type_id).where(e.volume_type_id.in_(list(type_ids))))}


def type_in_use(context, type_id):
    """Whether a live volume of the type exists (its encryption may not change then)."""
    v = models.Volume
    with _reader(context) as session:
        return session.execute(select(exists().where(
            v.volume_type_id == type_id, v.deleted.is_(False)))).scalar()


def create(context, type_id, values):
    """Insert the type's encryption; None if it already has one."""
    row = models.VolumeTypeEncryption(id=new_uuid(), volume_type_id=type_id,
                                      **{k: values.get(k) for k in FIELDS})
    try:
        with _writer(context) as session:
            session.add(row)
    except db_exc.DBDuplicateEntry:
        return None
    return row


def update(context, type_id, values):
    """Change some fields; False if the type has no encryption."""
    e = models.VolumeTypeEncryption
    values = {k: v for k, v in values.items() if k in FIELDS}
    values['updated_at'] = models.utcnow()
    with _writer(context) as session:
        return session.execute(sa.update(e).where(e.volume_type_id == type_id)
                               .values(**values)).rowcount > 0


def delete(context, type_id):
    e = models.VolumeTypeEncryption
    with _writer(context) as session:
        return session.execute(sa.delete(e).where(e.volume_type_id == type_id)).rowcount > 0
