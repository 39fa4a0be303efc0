"""Volume type views in Cinder's wire format.

Admins see every extra spec and ``qos_specs_id``; other users see only the
extra specs Cinder calls user-visible.
"""

from blockstore.api.views import fields as F
from blockstore.api.views import links

COLLECTION = 'types'

USER_VISIBLE_EXTRA_SPECS = frozenset(('RESKEY:availability_zones', 'multiattach',
                                      'replication_enabled'))


def visible_extra_specs(specs, is_admin):
    specs = specs or {}
    if is_admin:
        return dict(specs)
    return {k: v for k, v in specs.items() if k in USER_VISIBLE_EXTRA_SPECS}


def _extra_specs(t, rc):
    return visible_extra_specs(t.extra_specs, rc.is_admin)


FIELDS = F.FieldTable([
    F.Field('id', F.attr('id'), kinds=F.ALL_KINDS),
    F.Field('name', F.attr('name'), kinds=F.ALL_KINDS),
    F.Field('is_public', F.attr('is_public'), kinds=F.ALL_KINDS),
    F.Field('description', F.attr('description'), kinds=F.ALL_KINDS),
    F.Field('extra_specs', _extra_specs, kinds=F.ALL_KINDS),
    F.Field('qos_specs_id', F.attr('qos_specs_id'), admin=True, kinds=F.ALL_KINDS),
    F.Field('os-volume-type-access:is_public', F.attr('is_public'), kinds=F.ALL_KINDS),
])


def show(req, vtype):
    rc = links.RenderContext(req, COLLECTION)
    return {'volume_type': FIELDS.plan(F.FULL, rc.version, rc.is_admin).render(vtype, rc)}


def index(req, vtypes):
    rc = links.RenderContext(req, COLLECTION)
    return {'volume_types': FIELDS.plan(F.FULL, rc.version, rc.is_admin).render_all(vtypes, rc)}


def extra_specs(specs):
    return {'extra_specs': dict(specs)}


# -- type access, default types, encryption ---------------------------------------

def type_access(type_id, projects):
    return {'volume_type_access': [{'volume_type_id': type_id, 'project_id': p}
                                   for p in projects]}


def default_type(row):
    return {'project_id': row.project_id, 'volume_type_id': row.volume_type_id}


def encryption(row):
    """The index of /types/{id}/encryption: every column, as Cinder (``{}`` if none)."""
    if row is None:
        return {}
    return {'volume_type_id': row.volume_type_id, 'encryption_id': row.id,
            'provider': row.provider, 'cipher': row.cipher, 'key_size': row.key_size,
            'control_location': row.control_location,
            'created_at': F.format_time(row.created_at),
            'updated_at': F.format_time(row.updated_at), 'deleted': False, 'deleted_at': None}
