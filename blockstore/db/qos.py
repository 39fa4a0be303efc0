"""Queries for QoS specs and their association with volume types."""

from oslo_db import exception as db_exc
import sqlalchemy as sa
from sqlalchemy import update

from blockstore.db.api import _reader, _writer, new_uuid
from blockstore.db import models


def _lock(session, specs_id):
    """Write first (touch the row): take the write lock before reading; False if missing."""
    q = models.QualityOfServiceSpecs
    return session.execute(update(q).where(q.id == specs_id).values(
        updated_at=models.utcnow()).execution_options(synchronize_session=False)).rowcount == 1


def create(context, name, consumer, specs):
    """Insert QoS specs; None if the name is taken."""
    row = models.QualityOfServiceSpecs(id=new_uuid(), name=name, consumer=consumer)
    row.specs = [models.QualityOfServiceSpecsValue(key=k, value=v) for k, v in specs.items()]
    try:
        with _writer(context) as session:
            session.add(row)
            session.flush()
            session.refresh(row)
    except db_exc.DBDuplicateEntry:
        return None
    return row


def get(context, specs_id):
    with _reader(context) as session:
        return session.get(models.QualityOfServiceSpecs, specs_id)


def get_all(context):
    q = models.QualityOfServiceSpecs
    with _reader(context) as session:
        return session.query(q).order_by(q.created_at, q.id).all()


def update_specs(context, specs_id, consumer=None, specs=None, delete_keys=()):
    """Set consumer and keys, remove ``delete_keys``; None if the specs are gone.

    Returns the keys of ``delete_keys`` that did not exist (nothing is changed then).
    """
    with _writer(context) as session:
        if not _lock(session, specs_id):
            return None
        row = session.get(models.QualityOfServiceSpecs, specs_id)
        current = {s.key: s for s in row.specs}
        missing = [k for k in delete_keys if k not in current]
        if missing:
            return missing
        for k in delete_keys:
            row.specs.remove(current.pop(k))
        for k, v in (specs or {}).items():
            if k in current:
                current[k].value = v
            else:
                row.specs.append(models.QualityOfServiceSpecsValue(key=k, value=v))
        if consumer is not None:
            row.consumer = consumer
        row.updated_at = models.utcnow()
    return []


def associated_types(context, specs_id):
    vt = models.VolumeType
    with _reader(context) as session:
        return session.query(vt).filter(vt.qos_specs_id == specs_id,
                                        vt.deleted.is_(False)).order_by(vt.name).all()


def associate(context, specs_id, type_id):
    """Point a type at the specs, unless it is associated with other specs.

    Returns the id of the specs the type was associated with before (None if none).
    One conditional UPDATE: two concurrent associations cannot both win.
    """
    vt = models.VolumeType
    with _writer(context) as session:
        n = session.execute(update(vt).where(
            vt.id == type_id, vt.deleted.is_(False),
            sa.or_(vt.qos_specs_id.is_(None), vt.qos_specs_id == specs_id),
            sa.exists().where(models.QualityOfServiceSpecs.id == specs_id)).values(
                qos_specs_id=specs_id).execution_options(synchronize_session=False)).rowcount
        if n:
            return None
        row = session.get(vt, type_id)
        return row.qos_specs_id if row is not None else None


def disassociate(context, specs_id, type_id=None):
    """Clear the association of one type (or all types) with the specs; rows changed."""
    vt = models.VolumeType
    stmt = update(vt).where(vt.qos_specs_id == specs_id)
    if type_id is not None:
        stmt = stmt.where(vt.id == type_id)
    with _writer(context) as session:
        return session.execute(stmt.values(qos_specs_id=None).execution_options(
            synchronize_session=False)).rowcount


def delete(context, specs_id, force=False):
    """Delete specs; with ``force`` first disassociate them from every type.

    Returns 'deleted', 'missing' or 'in_use'. Without force, the check that no
    live type uses the specs and the delete are one transaction.
    """
    vt = models.VolumeType
    with _writer(context) as session:
        if not _lock(session, specs_id):
            return 'missing'
        row = session.get(models.QualityOfServiceSpecs, specs_id)
        if force:
            session.execute(update(vt).where(vt.qos_specs_id == specs_id).values(
                qos_specs_id=None).execution_options(synchronize_session=False))
        elif session.query(vt.id).filter(vt.qos_specs_id == specs_id,
                                         vt.deleted.is_(False)).first() is not None:
            return 'in_use'
        else:
            # Soft-deleted types may still point at the specs: let them go.
            session.execute(update(vt).where(vt.qos_specs_id == specs_id).values(
                qos_specs_id=None).execution_options(synchronize_session=False))
        session.delete(row)
    return 'deleted'
