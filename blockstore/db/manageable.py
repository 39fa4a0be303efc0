"""Queries for managing existing storage: what a backend already holds."""

import sqlalchemy as sa
from sqlalchemy import select

from blockstore.db.api import _reader
from blockstore.db import models


def _on_backend(column, backend):
    return sa.or_(column == backend, column.like(backend.replace('%', r'\%')
                                                 .replace('_', r'\_') + '#%', escape='\\'))


def _in_scope(v, backend, cluster):
    """Volumes on ``backend``, or (with ``cluster``) on any member of that cluster."""
    if cluster is None:
        return _on_backend(v.host, backend)
    return sa.or_(_on_backend(v.host, backend), _on_backend(v.cluster_name, cluster))


def live_ids_on_backend(context, resource, backend, cluster=None):
    """Ids of the live volumes (or snapshots of volumes) whose host is on ``backend``.

    ``cluster``: also those of the cluster's other members (a backend they share).
    """
    v, s = models.Volume, models.Snapshot
    with _reader(context) as session:
        if resource == 'volume':
            q = select(v.id).where(v.deleted.is_(False), _in_scope(v, backend, cluster))
        else:
            q = select(s.id).join(v, v.id == s.volume_id).where(
                s.deleted.is_(False), _in_scope(v, backend, cluster))
        return [r[0] for r in session.execute(q)]


def live_name_ids_on_backend(context, backend, cluster=None):
    """{backend name id: volume id} of the live volumes on ``backend`` (a migrated volume
    uses another id's backend name, ``_name_id``); ``cluster``: as live_ids_on_backend."""
    v = models.Volume
    with _reader(context) as session:
        q = select(v.id, v._name_id).where(v.deleted.is_(False),
                                           _in_scope(v, backend, cluster))
        return {name_id or vid: vid for vid, name_id in session.execute(q)}


def find_live_by_backend_name(context, name):
    """(resource, id) of the live volume or snapshot whose backend name is ``name``."""
    for prefix, model, resource in (('volume-', models.Volume, 'volume'),
                                    ('snapshot-', models.Snapshot, 'snapshot')):
        if name.startswith(prefix):
            rid = name[len(prefix):]
            named = (sa.func.coalesce(model._name_id, model.id) if model is models.Volume
                     else model.id)
            with _reader(context) as session:
                found = session.execute(select(model.id).where(
                    named == rid, model.deleted.is_(False))).first()
            if found:
                return resource, found[0]
    return None
