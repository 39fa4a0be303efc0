"""The one list of API microversions, and how a request picks one.

Every change to what the API accepts or returns adds a line to HISTORY and
raises MAX. Handlers declare the range they serve with ``@version_range``;
response fields declare theirs in a field table (see ``views/fields.py``);
schemas declare theirs in ``schemas/``. Nothing else compares versions,
except handler code whose *behaviour* (not rendering) changes at a version,
using the named constants below.

Negotiation follows Cinder: the header ``OpenStack-API-Version: volume 3.N``
(or the legacy ``OpenStack-Volume-microversion: 3.N``) selects the version;
``latest`` means MAX; no header means MIN. A string that is not ``X.Y`` is a
400; a well-formed version outside MIN..MAX is a 406.
"""

import collections
import re

import microversion_parse

SERVICE_TYPE = 'volume'
HEADER = 'OpenStack-API-Version'
LEGACY_HEADER = 'OpenStack-Volume-microversion'
ENVIRON_KEY = 'blockstore.microversion'

# One line per version: "3.N: what changed". Taken from Cinder's REST API
# history, which this API follows.
HISTORY = """
3.0: the v2 API with microversions; GET / lists the v3 endpoint and its versions
3.1: visibility and protected parameters for os-volume_upload_image
3.2: the bootable filter of volume lists is parsed strictly (true/false, else 400)
3.3: user messages API (/messages)
3.4: glance_metadata filter for volume list and detail
3.5: pagination of the messages API
3.6: consistency group update accepts an empty name and description
3.7: clusters API; cluster_name in the service list
3.8: manageable volumes and snapshots listing (manageable_volumes, manageable_snapshots)
3.9: backup update
3.10: group_id filter for volume list and detail
3.11: group types and group specs API
3.12: volume summary API (GET /volumes/summary)
3.13: generic volume groups API; group_id in volume details
3.14: group snapshots; create group from source; group_snapshot_id in snapshot details
3.15: Etag header on volume metadata to avoid lost updates
3.16: volume migration accepts a cluster
3.17: manageable volume and snapshot listings accept a cluster
3.18: backup project_id attribute (os-backup-project-attr:project_id)
3.19: reset status action for group snapshots
3.20: reset status action for generic volume groups
3.21: provider_id in volume details, for admins
3.22: metadata filter for snapshot listing
3.23: force parameter on volume delete
3.24: POST /workers/cleanup to clean up work of failed services
3.25: volumes field in group list, detail and show
3.26: failover action with cluster; cluster listing filters and replication fields
3.27: attachments API (new attach/detach flow)
3.28: filters for get_pools
3.29: filter, sort and pagination for group snapshots
3.30: sort snapshots by name
3.31: configurable resource query filters; unknown filter keys are rejected
3.32: set-log and get-log service actions
3.33: resource_filters API
3.34: like filters (key~=value) in list APIs
3.35: volume_type filter for get_pools
3.36: metadata in the volume summary response
3.37: sort backups by name
3.38: replication group actions (enable, disable, failover, list targets)
3.39: project_id admin filter for limits
3.40: revert a volume to its latest snapshot
3.41: user_id in snapshot list, detail and show
3.42: extend in-use volumes
3.43: backup create, update and show with metadata
3.44: attachment complete action
3.45: count field in volume, snapshot and backup list and detail (with_count)
3.46: create a volume from a Nova-specific image (zero-size image)
3.47: create a volume from a backup (backup_id)
3.48: service_uuid and shared_targets in volume details
3.49: backend_state in the service list
3.50: multiattach capability
3.51: availability_zone for backup create
3.52: RESKEY:availability_zones extra spec; filter volume types by extra_specs
3.53: request bodies validated by JSON schema; unknown top-level body keys are rejected
3.54: mode argument of attachment create
3.55: transfer volumes with their snapshots
3.56: user_id in backup detail and show
3.57: accepted, source and destination project ids in volume transfers
3.58: project_id in group and group snapshot details
3.59: sort, filter and paginate volume transfers
3.60: created_at and updated_at time-comparison filters for volume lists
3.61: cluster_name in volume details, for admins
3.62: per-project default volume types (/default-types)
3.63: volume_type_id in volume details
3.64: encryption_key_id in volume and backup details
3.65: consumes_quota in volume and snapshot details and as a filter
3.66: snapshot in-use volumes without force; force=false is refused
3.67: project_id optional in URLs
3.68: re-image a volume (os-reimage)
3.69: shared_targets may be null (tristate)
3.70: transfer encrypted volumes
3.71: os-extend_volume_completion volume action
"""


class Version(collections.namedtuple('Version', 'major minor')):
    """A microversion; compares as a tuple, prints as ``3.N``."""
    __slots__ = ()

    def __str__(self):
        return '%d.%d' % self

    @classmethod
    def parse(cls, text):
        """``'3.12'`` -> Version(3, 12); InvalidVersionString if malformed."""
        m = _VERSION_RE.match(text or '')
        if not m:
            raise InvalidVersionString(text)
        return cls(int(m.group(1)), int(m.group(2)))


_VERSION_RE = re.compile(r'^([1-9]\d*)\.([1-9]\d*|0)$')


def _parse_history(text):
    entries = []
    for line in text.strip().splitlines():
        number, _, what = line.partition(':')
        entries.append((Version.parse(number.strip()), what.strip()))
    return tuple(entries)


VERSIONS = _parse_history(HISTORY)
MIN = VERSIONS[0][0]
MAX = VERSIONS[-1][0]
# When the newest version was added (shown by version discovery).
UPDATED = '2023-09-01T00:00:00Z'


def v(text):
    """Version from ``'3.N'`` text: for declarations (decorators, field tables)."""
    return Version.parse(text)


# Versions at which a handler's *behaviour* changes (not its rendering).
UPLOAD_VISIBILITY = v('3.1')
BOOTABLE_FILTER_STRICT = v('3.2')
VOLUME_SUMMARY = v('3.12')
VOLUME_DELETE_FORCE = v('3.23')
RESOURCE_FILTER = v('3.31')
SUMMARY_METADATA = v('3.36')
SUPPORT_COUNT_INFO = v('3.45')
BACKUP_ID_IN_CREATE = v('3.47')
STRICT_BODY_SCHEMA = v('3.53')
SNAPSHOT_IN_USE = v('3.66')
TIME_COMPARISON_FILTER = v('3.60')
EXTEND_IN_USE = v('3.42')
REIMAGE = v('3.68')
EXTEND_COMPLETION = v('3.71')
# -- operations and quotas
MESSAGES_PAGINATION = v('3.5')
REPLICATION_CLUSTER = v('3.26')
POOL_FILTER = v('3.28')
LOG_LEVEL = v('3.32')
LIKE_FILTER = v('3.34')
POOL_TYPE_FILTER = v('3.35')
LIMITS_ADMIN_FILTER = v('3.39')
BACKEND_STATE_REPORT = v('3.49')


class InvalidVersionString(Exception):
    """Header value that is not ``X.Y`` (Cinder answers 400)."""

    def __init__(self, text):
        self.text = text
        super().__init__('API Version String %s is of invalid format. Must be of format '
                         'MajorNum.MinorNum.' % text)


class VersionNotAcceptable(Exception):
    """Well-formed version outside MIN..MAX (Cinder answers 406)."""

    def __init__(self, version):
        super().__init__('Version %s is not supported by the API. Minimum is %s and maximum '
                         'is %s.' % (version, MIN, MAX))


_CACHE = {}


def from_headers(headers):
    """The version a request asks for; raises InvalidVersionString/VersionNotAcceptable.

    ``headers`` is any mapping with case-insensitive ``get`` (webob's
    EnvironHeaders) or a dict.
    """
    text = microversion_parse.get_version(headers, service_type=SERVICE_TYPE,
                                          legacy_headers=[LEGACY_HEADER])
    if text is None:
        return MIN
    text = text.strip()
    found = _CACHE.get(text)
    if found is not None:
        return found
    if text == 'latest':
        found = MAX
    else:
        found = Version.parse(text)
        if not MIN <= found <= MAX:
            raise VersionNotAcceptable(found)
    if len(_CACHE) < 256:
        _CACHE[text] = found
    return found


def header_value(version):
    return '%s %s' % (SERVICE_TYPE, version)


def version_range(min_version=None, max_version=None):
    """Declare the versions a handler serves (inclusive); default MIN..MAX.

    The router answers 404 for a request whose version is outside the range
    of every handler of a URL and method, as Cinder does.
    """
    lo = v(min_version) if min_version else MIN
    hi = v(max_version) if max_version else MAX

    def decorator(func):
        func.min_version = lo
        func.max_version = hi
        return func
    return decorator


def handler_range(func):
    return getattr(func, 'min_version', MIN), getattr(func, 'max_version', MAX)


def request_version(req):
    """The negotiated version of a webob request (MIN outside the API stack)."""
    return req.environ.get(ENVIRON_KEY, MIN)
