"""Volume transfer handlers: /volume-transfers (3.55) and the legacy /os-volume-transfer."""

import types

from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import parameter_types as pt
from blockstore.api.schemas import transfers as schemas
from blockstore.api.views import transfers as views

# The two collections: the legacy one, and the one of 3.55 (snapshots, then pagination).
LEGACY = 'os-volume-transfer'
CURRENT = 'volume-transfers'
_FILTERS = {'name': 'display_name', 'volume_id': 'volume_id', 'id': 'id'}
_SORT_COLUMNS = {'name': 'display_name'}


def _list(req, detail, collection):
    ctx = common.authorize(req, 'volume:get_all_transfers')
    params = common.query_params(req)
    all_tenants = ctx.is_admin and common.lenient_bool(params.pop('all_tenants', 'false'))
    paging = {}
    limit = None
    if collection == CURRENT and common.version(req) >= mv.TRANSFER_PAGINATION:
        marker, limit, offset = common.pagination(params)
        sort_keys, sort_dirs = common.sort_params(params, _SORT_COLUMNS, default_dir='asc')
        paging = dict(marker=marker, limit=limit, offset=offset, sort_keys=sort_keys,
                      sort_dirs=sort_dirs)
    else:
        for key in ('limit', 'marker', 'offset', 'sort', 'sort_key', 'sort_dir'):
            params.pop(key, None)
    like = common.version(req) >= mv.LIKE_FILTER  # name~=text (other keys are ignored)
    params = common.like_filters(req, {k: v for k, v in params.items() if k in _FILTERS or (
        like and k.endswith('~') and k[:-1] in _FILTERS)}, _FILTERS)
    filters = {_FILTERS[k]: v for k, v in params.items()}
    rows = common.transfer_api(req).get_all(ctx, filters=filters, all_tenants=all_tenants, **paging)
    return common.json_response(views.index(req, rows, detail, collection, limit))


def _show(req, collection):
    row = common.transfer_api(req).get(common.context(req), req.urlvars['transfer_id'])
    common.authorize(req, 'volume:get_transfer', row)
    return common.json_response(views.show(req, row, views.DETAIL, collection))


def _create(req, collection):
    ctx = common.context(req)
    body = common.validated_body(req, schemas.create)['transfer']
    version = common.version(req)
    no_snapshots = False
    if collection == CURRENT and version >= mv.TRANSFER_WITH_SNAPSHOTS:
        no_snapshots = pt.bool_value(body.get('no_snapshots'))
    name = body.get('name')
    if name is not None:
        name = name.strip() or None
    volume = common.volume_api(req).get(ctx, body['volume_id'])
    common.authorize(req, 'volume:create_transfer', volume)
    row, auth_key = common.transfer_api(req).create(ctx, volume, name=name, no_snapshots=no_snapshots,
                                allow_encrypted=version >= mv.TRANSFER_ENCRYPTED)
    shown = types.SimpleNamespace(**{c.name: getattr(row, c.name)
                                     for c in row.__table__.columns})
    shown.auth_key = auth_key
    return common.json_response(views.show(req, shown, views.CREATE, collection),
                                status=202)


def _accept(req, collection):
    ctx = common.authorize(req, 'volume:accept_transfer')
    body = common.validated_body(req, schemas.accept)['accept']
    row = common.transfer_api(req).accept(ctx, req.urlvars['transfer_id'], body['auth_key'])
    return common.json_response(views.show(req, row, views.SUMMARY, collection),
                                status=202)


def _delete(req, collection):
    ctx = common.context(req)
    api = common.transfer_api(req)
    common.authorize(req, 'volume:delete_transfer', api.get(ctx, req.urlvars['transfer_id']))
    api.delete(ctx, req.urlvars['transfer_id'])
    return common.empty_response(202)


# -- /os-volume-transfer (every version) -------------------------------------------------

def index(req):
    """GET /os-volume-transfer"""
    return _list(req, False, LEGACY)


def detail(req):
    """GET /os-volume-transfer/detail"""
    return _list(req, True, LEGACY)


def show(req):
    """GET /os-volume-transfer/{transfer_id}"""
    return _show(req, LEGACY)


def create(req):
    """POST /os-volume-transfer -> 202 with the auth key (shown this once)."""
    return _create(req, LEGACY)


def accept(req):
    """POST /os-volume-transfer/{transfer_id}/accept {"accept": {"auth_key"}} -> 202."""
    return _accept(req, LEGACY)


def delete(req):
    """DELETE /os-volume-transfer/{transfer_id} -> 202."""
    return _delete(req, LEGACY)


# -- /volume-transfers (3.55) ---------------------------------------------------------------

@mv.version_range(mv.TRANSFER_WITH_SNAPSHOTS)
def v355_index(req):
    """GET /volume-transfers"""
    return _list(req, False, CURRENT)


@mv.version_range(mv.TRANSFER_WITH_SNAPSHOTS)
def v355_detail(req):
    """GET /volume-transfers/detail"""
    return _list(req, True, CURRENT)


@mv.version_range(mv.TRANSFER_WITH_SNAPSHOTS)
def v355_show(req):
    """GET /volume-transfers/{transfer_id}"""
    return _show(req, CURRENT)


@mv.version_range(mv.TRANSFER_WITH_SNAPSHOTS)
def v355_create(req):
    """POST /volume-transfers -> 202 with the auth key (shown this once)."""
    return _create(req, CURRENT)


@mv.version_range(mv.TRANSFER_WITH_SNAPSHOTS)
def v355_accept(req):
    """POST /volume-transfers/{transfer_id}/accept {"accept": {"auth_key"}} -> 202."""
    return _accept(req, CURRENT)


@mv.version_range(mv.TRANSFER_WITH_SNAPSHOTS)
def v355_delete(req):
    """DELETE /volume-transfers/{transfer_id} -> 202."""
    return _delete(req, CURRENT)
