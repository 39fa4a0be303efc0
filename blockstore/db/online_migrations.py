"""Database primitives of the online data migrations (``blockstore-manage db
online_data_migrations``); which migrations exist and what they fill is in
blockstore/ops/online_migrations.py.
"""

from sqlalchemy import func, select, update

from blockstore.db.api import _reader, _writer
from blockstore.db import models


def services_without_release(context, limit=None):
    """(count, rows): services whose release_name is unset; rows: at most ``limit`` of them
    (all when None), by id."""
    s = models.Service
    with _reader(context) as session:
        count = session.execute(select(func.count()).select_from(s)
                                .where(s.release_name.is_(None))).scalar()
        rows = []
        if limit is None or limit > 0:
            q = select(s).where(s.release_name.is_(None)).order_by(s.id)
            if limit is not None:
                q = q.limit(limit)
            rows = list(session.execute(q).scalars())
    return count, rows


def service_fill_release(context, service_id, release_name):
    """Set a service's release_name if it is still unset; whether this call set it (a
    service of this release may have written its own meanwhile)."""
    s = models.Service
    with _writer(context) as session:
        return session.execute(
            update(s).where(s.id == service_id, s.release_name.is_(None))
            .values(release_name=release_name)
            .execution_options(synchronize_session=False)).rowcount == 1


def service_set_release(context, service_id, release_name):
    """A starting service records the release it runs."""
    s = models.Service
    with _writer(context) as session:
        session.execute(update(s).where(s.id == service_id)
                        .values(release_name=release_name)
                        .execution_options(synchronize_session=False))
