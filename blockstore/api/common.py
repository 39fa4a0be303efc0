"""Helpers shared by handlers: bodies, responses, query parameters, policy checks."""

import ast
import json

from oslo_config import cfg
from oslo_utils import timeutils
import webob

from blockstore.api import microversion
from blockstore.api import query_filters
from blockstore.common import exception
from blockstore.common import policy
from blockstore.db import filters as db_filters

CONF = cfg.CONF

CONTEXT_KEY = 'blockstore.context'
VOLUME_API_KEY = 'blockstore.volume_api'
OPS_API_KEY = 'blockstore.ops_api'
TRANSFER_API_KEY = 'blockstore.transfer_api'
BACKUP_API_KEY = 'blockstore.backup_api'

_TRUE = ('t', 'true', 'on', 'y', 'yes', '1')
_FALSE = ('f', 'false', 'off', 'n', 'no', '0')


# -- request ----------------------------------------------------------------

def context(req):
    return req.environ[CONTEXT_KEY]


def volume_api(req):
    return req.environ[VOLUME_API_KEY]


def ops_api(req):
    """The operator service layer (pools, capabilities, services, cleanup): ops.api.API."""
    return req.environ[OPS_API_KEY]


def transfer_api(req):
    """The volume transfer service layer: transfer.api.API."""
    return req.environ[TRANSFER_API_KEY]


def backup_api(req):
    """The backup service layer: backup.api.API."""
    return req.environ[BACKUP_API_KEY]


def version(req):
    return microversion.request_version(req)


def json_body(req):
    """The request body as JSON; 400 in Cinder's words when it is not."""
    raw = req.body
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise exception.Invalid('Malformed message body: cannot understand JSON')


def validated_body(req, schema):
    body = json_body(req)
    return schema.validate(body, version(req))


def authorize(req, action, target=None):
    """The request's context, after ``policy.authorize`` allowed ``action`` on ``target``."""
    ctx = context(req)
    policy.authorize(ctx, action, target)
    return ctx


# Admin-only actions are policy checks too (their default rule is admin_api).
require_admin = authorize


# -- response ---------------------------------------------------------------

def json_response(body, status=200, headers=None):
    resp = webob.Response(status=status, content_type='application/json', charset=None)
    resp.body = json.dumps(body).encode('utf-8')
    if headers:
        resp.headers.update(headers)
    return resp


def empty_response(status=202):
    resp = webob.Response(status=status, content_type=None, charset=None)
    resp.body = b''
    return resp


# -- query parameters ---------------------------------------------------------

def parse_bool(value, name):
    """Strict boolean of a query parameter; 400 when it is not one."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise exception.InvalidInput(reason='%s=%s' % (name, value))


def lenient_bool(value):
    return str(value).strip().lower() in _TRUE


def _int_param(params, name, default):
    raw = params.pop(name, None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise exception.Invalid('%s param must be an integer' % name)
    if value < 0:
        raise exception.Invalid('%s param must be positive' % name)
    return value


def pagination(params):
    """(marker, limit, offset) popped from ``params``; limit capped by osapi_max_limit."""
    max_limit = CONF.osapi_max_limit
    limit = min(_int_param(params, 'limit', max_limit), max_limit)
    marker = params.pop('marker', None) or None
    offset = _int_param(params, 'offset', 0) or None
    return marker, limit, offset


def sort_params(params, key_map=None, default_key='created_at', default_dir='desc'):
    """(sort_keys, sort_dirs) from ``sort=k1:dir,k2`` or ``sort_key``/``sort_dir``."""
    key_map = key_map or {}
    if 'sort' in params and ('sort_key' in params or 'sort_dir' in params):
        raise exception.Invalid("The 'sort_key' and 'sort_dir' parameters are deprecated and "
                                "cannot be used with the 'sort' parameter.")
    keys, dirs = [], []
    if 'sort' in params:
        for item in params.pop('sort').strip().split(','):
            key, _, direction = item.partition(':')
            keys.append(key.strip())
            dirs.append(direction.strip() or default_dir)
    else:
        keys.append(params.pop('sort_key', default_key).strip())
        dirs.append(params.pop('sort_dir', default_dir).strip())
    for d in dirs:
        if d not in ('asc', 'desc'):
            raise exception.InvalidInput(reason="Unknown sort direction, must be 'desc' or "
                                                "'asc'")
    for k in keys:
        if not k:
            raise exception.InvalidInput(reason='empty sort key')
    return [key_map.get(k, k) for k in keys], dirs


def metadata_param(value):
    """A metadata filter: JSON or a Python dict literal (what cinderclient sends)."""
    if isinstance(value, dict):
        md = value
    else:
        md = None
        try:
            md = json.loads(value)
        except ValueError:
            try:
                md = ast.literal_eval(value)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                pass
    if not isinstance(md, dict) or not all(
            isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in md.items()):
        raise exception.InvalidInput(reason='metadata filter must be a dict of strings: %s'
                                     % (value,))
    return {k: v if isinstance(v, str) else str(v) for k, v in md.items()}


def query_params(req):
    """The query string as a plain dict (last value of a repeated key wins)."""
    return dict(req.GET.items())


# -- lists and actions --------------------------------------------------------------

# Query parameters of list calls that are not filters.
_NOT_FILTERS = ('all_tenants', 'with_count')


def list_filters(req, params, user_filters, columns, unsupported=frozenset(),
                 converters=None):
    """DB filters from query parameters, as Cinder filters lists.

    Non-admins may only use ``user_filters``: since 3.31 another key is a
    400, before it is ignored. Admins may filter on any column. Since 3.34
    ``key~=text`` matches the column by substring (a ``db.filters.Like``);
    non-admins may use it when ``key~`` is configured, which also allows
    ``key`` (Cinder's rule). Typed filters (those with a converter) have no
    ``~`` form.
    """
    ctx = context(req)
    req_version = version(req)
    like = req_version >= microversion.LIKE_FILTER
    converters = converters or {}
    filters, invalid, given = {}, [], {}
    for key, value in params.items():
        if key in _NOT_FILTERS:
            continue
        base = key[:-1] if like and key.endswith('~') else key
        if base in unsupported:
            raise exception.InvalidInput(reason='filter %s is not supported yet' % key)
        if not ctx.is_admin and not (key in user_filters or (like and key + '~' in user_filters)):
            if req_version >= microversion.RESOURCE_FILTER:
                invalid.append(key)
            continue
        column = columns.get(base, base)
        if column in given:
            raise exception.InvalidInput(reason='filters %s and %s cannot be combined'
                                         % (given[column], key))
        given[column] = key
        if base != key:
            if base in converters:
                raise exception.InvalidInput(reason='%s is not a text filter' % key)
            filters[column] = db_filters.Like(value)
            continue
        convert = converters.get(key)
        filters[column] = convert(req, value) if convert else value
    if invalid:
        raise exception.Invalid('Invalid filter keys: %s' % ', '.join(sorted(invalid)))
    return filters


def _parse_time(text):
    try:
        return timeutils.normalize_time(timeutils.parse_isotime(text.strip()))
    except ValueError:
        raise exception.Invalid('Invalid %s value' % text)


def time_filter(req, value):
    """``created_at``/``updated_at``: ``op:time[,op:time...]`` since 3.60, a time before."""
    if version(req) < microversion.TIME_COMPARISON_FILTER:
        return db_filters.Compare(eq=_parse_time(value))
    found = db_filters.Compare()
    for unit in value.split(','):
        op, sep, text = unit.strip().partition(':')
        if not sep or op not in db_filters.OPERATORS:
            raise exception.Invalid('Invalid %s operator' % op)
        found[op] = _parse_time(text)
    return found


def like_filters(req, filters, text_keys):
    """Turn ``key~`` entries of ``filters`` (3.34) into ``Like`` values of ``key``, in place.

    For handlers that pass API keys down as they are (messages, transfers);
    a ``~`` on a key not in ``text_keys`` is a 400.
    """
    if version(req) < microversion.LIKE_FILTER:
        return filters
    for key in [k for k in filters if k.endswith('~')]:
        base = key[:-1]
        if base not in text_keys:
            raise exception.InvalidInput(reason='%s is not a text filter' % key)
        if base in filters:
            raise exception.InvalidInput(reason='filters %s and %s cannot be combined'
                                         % (base, key))
        filters[base] = db_filters.Like(filters.pop(key))
    return filters


def list_args(req, sort_columns):
    """Pagination, sort, scope and count options shared by volume and snapshot lists."""
    ctx = context(req)
    params = query_params(req)
    marker, limit, offset = pagination(params)
    sort_keys, sort_dirs = sort_params(params, sort_columns)
    all_tenants = ctx.is_admin and lenient_bool(params.get('all_tenants', 'false'))
    with_count = (version(req) >= microversion.SUPPORT_COUNT_INFO
                  and parse_bool(params.get('with_count', 'false'), 'with_count'))
    return params, dict(marker=marker, limit=limit, offset=offset, sort_keys=sort_keys,
                        sort_dirs=sort_dirs, all_tenants=all_tenants), with_count


def single_meta_body(req, schema):
    """The one (key, value) of a ``{"meta": {key: value}}`` body matching the URL key."""
    body = validated_body(req, schema)
    meta = body['meta']
    key = req.urlvars['key']
    if len(meta) > 1:
        raise exception.Invalid('Request body contains too many items')
    if key not in meta:
        raise exception.Invalid('Request body and URI mismatch')
    return key, meta[key]


def action_name(body):
    """The one key of an action body (Cinder: exactly one, else 400)."""
    if not isinstance(body, dict) or not body:
        raise exception.Invalid('Malformed message body: no action in body')
    if len(body) != 1:
        raise exception.Invalid('Malformed message body: too many body keys')
    return next(iter(body))


# -- collections whose back end does not exist yet -------------------------------------

def empty_list(req, collection, resource=None, with_count=False):
    """``{collection: []}`` for a resource this deployment has none of, parameters checked.

    Pagination, sort and (since 3.31, for ``resource``) filter keys are
    validated as for a real list, so a bad request is still a 400; a marker
    can name nothing, so it is a 404 as in Cinder. ``with_count`` (3.45) adds
    ``"count": 0``.
    """
    ctx = context(req)
    params = query_params(req)
    marker, _limit, _offset = pagination(params)
    sort_params(params)
    count = (with_count and version(req) >= microversion.SUPPORT_COUNT_INFO
             and parse_bool(params.pop('with_count', 'false'), 'with_count'))
    params.pop('with_count', None)
    if resource and version(req) >= microversion.RESOURCE_FILTER:
        query_filters.reject_invalid(ctx, params, resource,
                                     version(req) >= microversion.LIKE_FILTER)
    if marker:
        raise exception.MarkerNotFound(marker=marker)
    body = {collection: []}
    if count:
        body['count'] = 0
    return json_response(body)
