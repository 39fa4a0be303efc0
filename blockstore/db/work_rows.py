"""Work records (claimable long work, see ``models.Worker``) and user messages.

Part of the database API: import it as ``blockstore.db.api`` (which re-exports
these functions).
"""

from oslo_db import exception as db_exc
from oslo_serialization import jsonutils
import sqlalchemy as sa
from sqlalchemy import update

from blockstore.db import models
from blockstore.db.api import _reader, _retry_on_deadlock, _writer, new_uuid
from blockstore.db.models import utcnow


# ---------------------------------------------------------------------------
# Work records
# ---------------------------------------------------------------------------

def _put_worker(session, resource_type, resource_id, work):
    """Insert the work record of a resource, or replace a stale one, in ``session``.

    Insert first: on MariaDB a DELETE or UPDATE of a missing key takes a gap
    lock, and two such transactions inserting into the same gap deadlock.
    """
    values = {'operation': work['operation'], 'status': work['status'],
              'service_id': work.get('service_id'),
              'payload': (jsonutils.dumps(work['payload'])
                          if work.get('payload') is not None else None)}
    try:
        with session.begin_nested():
            w = models.Worker(resource_type=resource_type, resource_id=resource_id, **values)
            session.add(w)
            session.flush()
        return w
    except db_exc.DBDuplicateEntry:
        values['race_preventer'] = models.Worker.race_preventer + 1
        values['updated_at'] = utcnow()
        session.execute(update(models.Worker).where(
            models.Worker.resource_type == resource_type,
            models.Worker.resource_id == resource_id).values(**values))
        return session.query(models.Worker).filter_by(resource_type=resource_type,
                                                      resource_id=resource_id).one()


@_retry_on_deadlock
def worker_create(context, resource_type, resource_id, operation, status, service_id=None,
                  payload=None):
    """Record work about to start on a resource; replaces a stale record of it."""
    with _writer(context) as session:
        return _put_worker(session, resource_type, resource_id,
                           {'operation': operation, 'status': status,
                            'service_id': service_id, 'payload': payload})


def worker_set_service(context, resource_type, resource_id, service_id):
    with _writer(context) as session:
        session.execute(update(models.Worker).where(
            models.Worker.resource_type == resource_type,
            models.Worker.resource_id == resource_id).values(service_id=service_id,
                                                             updated_at=utcnow()))


def worker_get_all(context, **filters):
    with _reader(context) as session:
        return session.query(models.Worker).filter_by(**filters).order_by(
            models.Worker.id).all()


def worker_claim(context, worker, service_id):
    """Take over a work record; True if this caller won it."""
    with _writer(context) as session:
        n = session.execute(update(models.Worker).where(
            models.Worker.id == worker.id,
            models.Worker.race_preventer == worker.race_preventer).values(
                service_id=service_id, race_preventer=models.Worker.race_preventer + 1,
                updated_at=utcnow())).rowcount
    return n == 1


def worker_destroy(context, resource_type, resource_id, operation=None):
    with _writer(context) as session:
        q = sa.delete(models.Worker).where(models.Worker.resource_type == resource_type,
                                           models.Worker.resource_id == resource_id)
        if operation is not None:
            q = q.where(models.Worker.operation == operation)
        return session.execute(q).rowcount


# ---------------------------------------------------------------------------
# User messages
# ---------------------------------------------------------------------------

def message_create(context, values):
    values = dict(values)
    values.setdefault('id', new_uuid())
    msg = models.Message(**values)
    with _writer(context) as session:
        session.add(msg)
    return msg


def message_get_all(context, project_id=None, resource_uuid=None):
    with _reader(context) as session:
        q = session.query(models.Message)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        if resource_uuid is not None:
            q = q.filter_by(resource_uuid=resource_uuid)
        return q.order_by(models.Message.created_at.desc()).all()
