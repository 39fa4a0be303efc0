"""QoS specs views in Cinder's wire format."""

from blockstore.api.views import links

COLLECTION = 'qos-specs'


def _item(row):
    return {'id': row.id, 'name': row.name, 'consumer': row.consumer,
            'specs': {s.key: s.value for s in row.specs}}


def show(req, row):
    """``{"qos_specs": {...}, "links": [...]}`` (the links sit beside, as in Cinder)."""
    rc = links.RenderContext(req, COLLECTION)
    return {'qos_specs': _item(row), 'links': links.resource_links(row, rc)}


def index(req, rows):
    return {'qos_specs': [_item(r) for r in rows]}


def associations(entries):
    return {'qos_associations': entries}
