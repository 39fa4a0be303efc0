"""Volume transfer handlers: /volume-transfers (3.55) and the legacy /os-volume-transfer."""

import types

from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import parameter_types as pt
from blockstore.api.schemas import transfers as schemas
from blockstore.api.views import transfers as views
from blockstore.transfer import api as transfer_api

_API = transfer_api.API()
_FILTERS = {'name': 'display_name', 'volume_id': 'volume_id', 'id': 'id'}
_SORT_COLUMNS = {'name': 'display_name'}


def _collection(req):
    return 'volume-transfers' if '/volume-transfers' in req.path_info else 'os-volume-transfer'


def _list(req, detail):
    ctx = common.authorize(req, 'volume:get_all_transfers')
    params = common.query_params(req)
    all_tenants = ctx.is_admin and common.lenient_bool(params.pop('all_tenants', 'false'))
    paging = {}
    limit = None
    if common.version(req) >= mv.TRANSFER_PAGINATION and _collection(req) == 'volume-transfers':
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
    rows = _API.get_all(ctx, filters=filters, all_tenants=all_tenants, **paging)
    return common.json_response(views.index(req, rows, detail, _collection(req), limit))


def index(req):
    """GET /volume-transfers, /os-volume-transfer"""
    return _list(req, detail=False)


def detail(req):
    """GET /volume-transfers/detail, /os-volume-transfer/detail"""
    return _list(req, detail=True)


def show(req):
    """GET /volume-transfers/{transfer_id}"""
    row = _API.get(common.context(req), req.urlvars['transfer_id'])
    common.authorize(req, 'volume:get_transfer', row)
    return common.json_response(views.show(req, row, views.DETAIL, _collection(req)))


def create(req):
    """POST /volume-transfers -> 202 with the auth key (shown this once)."""
    ctx = common.context(req)
    body = common.validated_body(req, schemas.create)['transfer']
    version = common.version(req)
    no_snapshots = False
    if version >= mv.TRANSFER_WITH_SNAPSHOTS and _collection(req) == 'volume-transfers':
        no_snapshots = pt.bool_value(body.get('no_snapshots'))
    name = body.get('name')
    if name is not None:
        name = name.strip() or None
    volume = common.volume_api(req).get(ctx, body['volume_id'])
    common.authorize(req, 'volume:create_transfer', volume)
    row, auth_key = _API.create(ctx, volume, name=name, no_snapshots=no_snapshots,
                                allow_encrypted=version >= mv.TRANSFER_ENCRYPTED)
    shown = types.SimpleNamespace(**{c.name: getattr(row, c.name)
                                     for c in row.__table__.columns})
    shown.auth_key = auth_key
    return common.json_response(views.show(req, shown, views.CREATE, _collection(req)),
                                status=202)


def accept(req):
    """POST /volume-transfers/{transfer_id}/accept {"accept": {"auth_key"}} -> 202."""
    ctx = common.authorize(req, 'volume:accept_transfer')
    body = common.validated_body(req, schemas.accept)['accept']
    row = _API.accept(ctx, req.urlvars['transfer_id'], body['auth_key'])
    return common.json_response(views.show(req, row, views.SUMMARY, _collection(req)),
                                status=202)


def delete(req):
    """DELETE /volume-transfers/{transfer_id} -> 202."""
    ctx = common.context(req)
    common.authorize(req, 'volume:delete_transfer', _API.get(ctx, req.urlvars['transfer_id']))
    _API.delete(ctx, req.urlvars['transfer_id'])
    return common.empty_response(202)


def _since_355(handler):
    """The /volume-transfers flavour of a handler: 3.55 and later."""
    wrapped = mv.version_range(mv.TRANSFER_WITH_SNAPSHOTS)(lambda req: handler(req))
    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


v355_index = _since_355(index)
v355_detail = _since_355(detail)
v355_show = _since_355(show)
v355_create = _since_355(create)
v355_accept = _since_355(accept)
v355_delete = _since_355(delete)
