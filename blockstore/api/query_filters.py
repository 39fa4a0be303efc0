"""Which query filters non-admin users may use in list calls (Cinder's resource filters).

The filters per resource come from the JSON file named by
``[DEFAULT] resource_query_filters_file`` (format of
``etc/blockstore/resource_filters.json``), else from ``DEFAULTS`` (the same
content). ``GET /resource_filters`` (3.33) shows them; list handlers check
against them: ``USER_FILTERS = query_filters.Allowed('volume')`` is a set-like
object read at request time, so a changed file is picked up.
"""

import json
import os
import threading

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import exception

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Cinder's etc/cinder/resource_filters.json.
DEFAULTS = {
    'volume': ['name', 'status', 'metadata', 'bootable', 'migration_status',
               'availability_zone', 'group_id', 'size', 'created_at', 'updated_at'],
    'backup': ['name', 'status', 'volume_id'],
    'snapshot': ['name', 'status', 'volume_id', 'metadata', 'availability_zone'],
    'group': ['name'],
    'group_snapshot': ['name', 'status', 'group_id'],
    'attachment': ['volume_id', 'status', 'instance_id', 'attach_status'],
    'message': ['resource_uuid', 'resource_type', 'event_id', 'request_id',
                'message_level'],
    'pool': ['name', 'volume_type'],
    'volume_type': ['is_public', 'extra_specs'],
}

_lock = threading.Lock()
_cache = {}


class FiltersFileError(exception.BlockstoreException):
    msg_fmt = 'The resource filters file %(path)s cannot be used: %(reason)s'


def _load(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise FiltersFileError(path=path, reason=e)
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
            for k, v in data.items()):
        raise FiltersFileError(path=path, reason='it must map resource names to lists of '
                                                 'filter names')
    return data


def enabled():
    """{resource: [filter, ...]} in effect now."""
    path = CONF.resource_query_filters_file
    if not path:
        return DEFAULTS
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError as e:
        raise FiltersFileError(path=path, reason=e)
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    data = _load(path)
    with _lock:
        _cache[path] = (stamp, data)
    return data


def for_resource(resource=None):
    """{resource: filters} of one resource ({} if unknown), or of all when None."""
    filters = enabled()
    if resource is None:
        return dict(filters)
    return {resource: filters[resource]} if resource in filters else {}


def allowed(resource):
    return frozenset(enabled().get(resource, ()))


class Allowed:
    """The filters of one resource, looked up when used (``key in Allowed('volume')``).

    ``without``: configured filters a handler cannot apply yet (treated as not allowed).
    """

    def __init__(self, resource, without=()):
        self.resource = resource
        self.without = frozenset(without)

    def __contains__(self, key):
        return key in allowed(self.resource) and key not in self.without

    def __iter__(self):
        return iter(sorted(allowed(self.resource) - self.without))

    def __repr__(self):
        return 'Allowed(%r)' % self.resource


def reject_invalid(ctx, filters, resource, like_filters=False):
    """400 for filter keys the caller may not use, as Cinder's reject_invalid_filters.

    Administrators may use any key, except on pools. ``all_tenants`` is
    dropped silently (cinderclient always sends it). With ``like_filters``
    (3.34) a configured ``key~`` makes both ``key`` and ``key~`` valid.
    """
    for key in list(filters):
        if not key.isascii():
            raise exception.Invalid('Filter keys can only contain ASCII characters.')
    if ctx.is_admin and resource != 'pool':
        return
    configured = allowed(resource)
    invalid = []
    for key in list(filters):
        if not (key in configured or (like_filters and key + '~' in configured)):
            invalid.append(key)
    if 'all_tenants' in invalid:
        invalid.remove('all_tenants')
        filters.pop('all_tenants')
    if invalid:
        raise exception.Invalid('Invalid filters %s are found in query options.'
                                % ','.join(invalid))
