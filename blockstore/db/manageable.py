"""Queries for managing existing storage: what a backend already holds."""

import sqlalchemy as sa
from sqlalchemy import select

from blockstore.db.api import _reader
from blockstore.db import models


def _on_backend(column, backend):
    return sa.or_(column == backend, column.like(backend.replace('%', r'\%')
                                                 .replace('_', r'\_') + '#%', escape='\\'))


def live_ids_on_backend(context, resource, backend):
    """Ids of the live volumes (or snapshots of volumes) whose host is on ``backend``."""
    v, s = models.Volume, models.Snapshot
    with _reader(context) as session:
        if resource == 'volume':
            q = select(v.id).where(v.deleted.is_(False), _on_backend(v.host, backend))
        else:
            q = select(s.id).join(v, v.id == s.volume_id).where(
                s.deleted.is_(False), _on_backend(v.host, backend))
        return [r[0] for r in session.execute(q)]


def live_name_ids_on_backend(context, backend):
    """{backend name id: volume id} of the live volumes on ``backend`` (a migrated volume
    uses another id's backend name, ``_name_id``)."""
    v = models.Volume
    with _reader(context) as session:
        q = select(v.id, v._name_id).where(v.deleted.is_(False), _on_backend(v.host, backend))
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
