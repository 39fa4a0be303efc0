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
    F.Field('qos_specs_id', F.const(None), admin=True, kinds=F.ALL_KINDS),
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
