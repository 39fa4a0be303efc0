"""Manage existing storage: /manageable_volumes and /manageable_snapshots (3.8), and the
legacy /os-volume-manage and /os-snapshot-manage. Administrators only."""

from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import manageable as schemas
from blockstore.api.schemas import parameter_types as pt
from blockstore.api.views import fields as F
from blockstore.api.views import snapshots as snapshot_views
from blockstore.api.views import volumes as volume_views
from blockstore.common import exception
from blockstore.volume.attach import reads as attachment_reads

_SUMMARY = ('reference', 'size', 'safe_to_manage')
_DETAIL = ('reason_not_safe', 'cinder_id', 'extra_info')


def _paging(req):
    params = common.query_params(req)
    host = params.pop('host', None)
    if params.pop('cluster', None):
        raise exception.InvalidInput(reason='listing by cluster is not supported yet')
    if not host:
        raise exception.Invalid("Either 'host' or 'cluster' must be specified.")
    marker, limit, offset = common.pagination(params)
    sort_keys, sort_dirs = common.sort_params(params, default_key='reference')
    return host, dict(marker=marker, limit=limit, offset=offset, sort_keys=sort_keys,
                      sort_dirs=sort_dirs)


def _render(entries, detail, extra=()):
    names = _SUMMARY + tuple(extra) + (_DETAIL if detail else ())
    return [{k: e.get(k) for k in names} for e in entries]


def _volumes(req, detail):
    ctx = common.require_admin(req, 'volume_extension:list_manageable')
    host, paging = _paging(req)
    entries = common.volume_api(req).manage.get_manageable_volumes(ctx, host, **paging)
    return common.json_response({'manageable-volumes': _render(entries, detail)})


def volumes_index(req):
    """GET /manageable_volumes?host="""
    return _volumes(req, detail=False)


def volumes_detail(req):
    """GET /manageable_volumes/detail?host="""
    return _volumes(req, detail=True)


def _snapshots(req, detail):
    ctx = common.require_admin(req, 'volume_extension:list_manageable')
    host, paging = _paging(req)
    entries = common.volume_api(req).manage.get_manageable_snapshots(ctx, host, **paging)
    return common.json_response({'manageable-snapshots': _render(entries, detail,
                                                                 ('source_reference',))})


def snapshots_index(req):
    """GET /manageable_snapshots?host="""
    return _snapshots(req, detail=False)


def snapshots_detail(req):
    """GET /manageable_snapshots/detail?host="""
    return _snapshots(req, detail=True)


def manage_volume(req):
    """POST /manageable_volumes -> 202 with the new volume ('creating' until adopted)."""
    ctx = common.require_admin(req, 'volume_extension:volume_manage')
    body = common.validated_body(req, schemas.manage_volume)['volume']
    if not body.get('host') and not body.get('cluster'):
        raise exception.Invalid("Either 'host' or 'cluster' must be specified.")
    volume = common.volume_api(req).manage.manage_existing(
        ctx, body.get('host'), body['ref'], name=body.get('name'),
        description=body.get('description'), volume_type=body.get('volume_type') or None,
        availability_zone=body.get('availability_zone'), metadata=body.get('metadata'),
        bootable=pt.bool_value(body.get('bootable')), cluster=body.get('cluster'))
    volume = attachment_reads.with_attachments(common.context(req), volume)
    return common.json_response(volume_views.show(req, volume, F.DETAIL), status=202)


def manage_snapshot(req):
    """POST /manageable_snapshots -> 202 with the new snapshot."""
    ctx = common.require_admin(req, 'volume_extension:snapshot_manage')
    body = common.validated_body(req, schemas.manage_snapshot)['snapshot']
    snapshot = common.volume_api(req).manage.manage_existing_snapshot(
        ctx, body['volume_id'], body['ref'], name=body.get('name'),
        description=body.get('description'), metadata=body.get('metadata'))
    return common.json_response(snapshot_views.show(req, snapshot, F.DETAIL), status=202)


def _since_38(handler):
    """The /manageable_* flavour of a handler: 3.8 and later."""
    wrapped = mv.version_range(mv.MANAGEABLE)(lambda req: handler(req))
    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


v38_volumes_index = _since_38(volumes_index)
v38_volumes_detail = _since_38(volumes_detail)
v38_snapshots_index = _since_38(snapshots_index)
v38_snapshots_detail = _since_38(snapshots_detail)
v38_manage_volume = _since_38(manage_volume)
v38_manage_snapshot = _since_38(manage_snapshot)
