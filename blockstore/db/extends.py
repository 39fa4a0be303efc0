"""The record of an attached extend that waits for the compute host (3.71).

A backend that declares ``ComputeExtendOps`` cannot grow an attached volume
by itself: the compute host does it and confirms with
``os-extend_volume_completion``. Meanwhile the volume stays ``extending``
and its work record changes operation from ``extend`` to
``extend_completion`` (keeping ``new_size``, so quotas still count it, and
marking the volume as awaiting, the guard of the completion events). The
new size is also kept in the admin metadata key ``extend_new_size``, which
volume views show among the metadata: Nova reads it, as with Cinder.
"""

from oslo_serialization import jsonutils
import sqlalchemy as sa

from blockstore.db import api as db
from blockstore.db import models

NEW_SIZE_KEY = 'extend_new_size'


def await_completion(context, volume_id, new_size):
    """Turn the volume's extend record into an awaited completion; True if it was there."""
    w = models.Worker
    with db._writer(context) as session:
        n = session.execute(sa.update(w).where(
            w.resource_type == 'volume', w.resource_id == volume_id,
            w.operation == 'extend').values(operation=db.EXTEND_COMPLETION,
                                            updated_at=models.utcnow())).rowcount
        if n != 1:
            return False
        _forget_size(session, volume_id)
        session.add(models.VolumeAdminMetadata(volume_id=volume_id, key=NEW_SIZE_KEY,
                                               value=str(new_size)))
        return True


def awaited_size(context, volume_id):
    """new_size of the extend awaiting completion, or None."""
    w = models.Worker
    with db._reader(context) as session:
        payload = session.execute(sa.select(w.payload).where(
            w.resource_type == 'volume', w.resource_id == volume_id,
            w.operation == db.EXTEND_COMPLETION)).scalar()
    if payload is None:
        return None
    try:
        return int(jsonutils.loads(payload).get('new_size'))
    except (TypeError, ValueError):
        return None


def _forget_size(session, volume_id):
    session.execute(sa.delete(models.VolumeAdminMetadata).where(
        models.VolumeAdminMetadata.volume_id == volume_id,
        models.VolumeAdminMetadata.key == NEW_SIZE_KEY))


def forget_size(context, volume_id):
    """Drop ``extend_new_size`` (an admin reset the volume and its work record)."""
    with db._writer(context) as session:
        _forget_size(session, volume_id)


def finish_in(session, volume_id):
    """Inside the transaction that ends the extend: drop its record and the new size."""
    w = models.Worker
    session.execute(sa.delete(w).where(w.resource_type == 'volume',
                                       w.resource_id == volume_id,
                                       w.operation == db.EXTEND_COMPLETION))
    _forget_size(session, volume_id)
