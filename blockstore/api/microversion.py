"""The one list of API microversions, and how a request picks one.

Every change to what the API accepts or returns adds one ``_version(...)``
line to the history below (which raises MAX). A version that code refers to
is named on its history line (``REIMAGE = _version('3.68', ...)``), and code
uses that name, never a typed ``'3.N'``: handlers declare the range they serve
with ``@version_range(mv.NAME)``, version-gated actions declare theirs in an
action table (``api/actions.py``), and handler code whose *behaviour* (not
rendering) changes at a version compares with the name. Response fields
declare their versions in a field table (see ``views/fields.py``), schemas
theirs in ``schemas/``.

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


def v(text):
    """Version from ``'3.N'`` text: for declarations (field tables, schemas)."""
    return Version.parse(text)


# -- the history ---------------------------------------------------------------------------
# One entry per version, in order: "3.N: what changed", taken from Cinder's
# REST API history, which this API follows. A version that code refers to is
# named here, on its own entry.

_HISTORY = []


def _version(number, what):
    version = v(number)
    _HISTORY.append((version, what))
    return version


_version(
    '3.0', 'the v2 API with microversions; GET / lists the v3 endpoint and its versions')
UPLOAD_VISIBILITY = _version(
    '3.1', 'visibility and protected parameters for os-volume_upload_image')
BOOTABLE_FILTER_STRICT = _version(
    '3.2', 'the bootable filter of volume lists is parsed strictly (true/false, else 400)')
MESSAGES = _version('3.3', 'user messages API (/messages)')
_version('3.4', 'glance_metadata filter for volume list and detail')
MESSAGES_PAGINATION = _version('3.5', 'pagination of the messages API')
_version('3.6', 'consistency group update accepts an empty name and description')
CLUSTERS = _version('3.7', 'clusters API; cluster_name in the service list')
MANAGEABLE = _version(
    '3.8', 'manageable volumes and snapshots listing (manageable_volumes, manageable_snapshots)')
BACKUP_UPDATE = _version('3.9', 'backup update')
_version('3.10', 'group_id filter for volume list and detail')
GROUP_TYPES = _version('3.11', 'group types and group specs API')
VOLUME_SUMMARY = _version('3.12', 'volume summary API (GET /volumes/summary)')
GROUPS = _version('3.13', 'generic volume groups API; group_id in volume details')
GROUP_SNAPSHOTS = _version(
    '3.14', 'group snapshots; create group from source; group_snapshot_id in snapshot details')
_version('3.15', 'Etag header on volume metadata to avoid lost updates')
MIGRATE_CLUSTER = _version('3.16', 'volume migration accepts a cluster')
_version('3.17', 'manageable volume and snapshot listings accept a cluster')
_version('3.18', 'backup project_id attribute (os-backup-project-attr:project_id)')
GROUP_SNAPSHOT_RESET_STATUS = _version('3.19', 'reset status action for group snapshots')
GROUP_RESET_STATUS = _version('3.20', 'reset status action for generic volume groups')
_version('3.21', 'provider_id in volume details, for admins')
_version('3.22', 'metadata filter for snapshot listing')
VOLUME_DELETE_FORCE = _version('3.23', 'force parameter on volume delete')
WORKERS_CLEANUP = _version('3.24', 'POST /workers/cleanup to clean up work of failed services')
_version('3.25', 'volumes field in group list, detail and show')
REPLICATION_CLUSTER = _version(
    '3.26', 'failover action with cluster; cluster listing filters and replication fields')
NEW_ATTACH = _version('3.27', 'attachments API (new attach/detach flow)')
POOL_FILTER = _version('3.28', 'filters for get_pools')
_version('3.29', 'filter, sort and pagination for group snapshots')
_version('3.30', 'sort snapshots by name')
RESOURCE_FILTER = _version(
    '3.31', 'configurable resource query filters; unknown filter keys are rejected')
LOG_LEVEL = _version('3.32', 'set-log and get-log service actions')
RESOURCE_FILTERS_API = _version('3.33', 'resource_filters API')
LIKE_FILTER = _version('3.34', 'like filters (key~=value) in list APIs')
POOL_TYPE_FILTER = _version('3.35', 'volume_type filter for get_pools')
SUMMARY_METADATA = _version('3.36', 'metadata in the volume summary response')
BACKUP_SORT_NAME = _version('3.37', 'sort backups by name')
GROUP_REPLICATION = _version(
    '3.38', 'replication group actions (enable, disable, failover, list targets)')
LIMITS_ADMIN_FILTER = _version('3.39', 'project_id admin filter for limits')
VOLUME_REVERT = _version('3.40', 'revert a volume to its latest snapshot')
_version('3.41', 'user_id in snapshot list, detail and show')
EXTEND_IN_USE = _version('3.42', 'extend in-use volumes')
BACKUP_METADATA = _version('3.43', 'backup create, update and show with metadata')
ATTACHMENT_COMPLETE = _version('3.44', 'attachment complete action')
SUPPORT_COUNT_INFO = _version(
    '3.45', 'count field in volume, snapshot and backup list and detail (with_count)')
_version('3.46', 'create a volume from a Nova-specific image (zero-size image)')
BACKUP_ID_IN_CREATE = _version('3.47', 'create a volume from a backup (backup_id)')
_version('3.48', 'service_uuid and shared_targets in volume details')
BACKEND_STATE_REPORT = _version('3.49', 'backend_state in the service list')
_version('3.50', 'multiattach capability')
BACKUP_AZ = _version('3.51', 'availability_zone for backup create')
_version('3.52', 'RESKEY:availability_zones extra spec; filter volume types by extra_specs')
STRICT_BODY_SCHEMA = _version(
    '3.53', 'request bodies validated by JSON schema; unknown top-level body keys are rejected')
ATTACH_MODE = _version('3.54', 'mode argument of attachment create')
TRANSFER_WITH_SNAPSHOTS = _version('3.55', 'transfer volumes with their snapshots')
_version('3.56', 'user_id in backup detail and show')
_version('3.57', 'accepted, source and destination project ids in volume transfers')
_version('3.58', 'project_id in group and group snapshot details')
TRANSFER_PAGINATION = _version('3.59', 'sort, filter and paginate volume transfers')
TIME_COMPARISON_FILTER = _version(
    '3.60', 'created_at and updated_at time-comparison filters for volume lists')
_version('3.61', 'cluster_name in volume details, for admins')
DEFAULT_TYPES = _version('3.62', 'per-project default volume types (/default-types)')
_version('3.63', 'volume_type_id in volume details')
_version('3.64', 'encryption_key_id in volume and backup details')
_version('3.65', 'consumes_quota in volume and snapshot details and as a filter')
SNAPSHOT_IN_USE = _version('3.66', 'snapshot in-use volumes without force; force=false is refused')
_version('3.67', 'project_id optional in URLs')
REIMAGE = _version('3.68', 're-image a volume (os-reimage)')
_version('3.69', 'shared_targets may be null (tristate)')
TRANSFER_ENCRYPTED = _version('3.70', 'transfer encrypted volumes')
EXTEND_COMPLETION = _version('3.71', 'os-extend_volume_completion volume action')

VERSIONS = tuple(_HISTORY)
MIN = VERSIONS[0][0]
MAX = VERSIONS[-1][0]
# When the newest version was added (shown by version discovery).
UPDATED = '2023-09-01T00:00:00Z'


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


def _as_version(value, default):
    if value is None:
        return default
    return value if isinstance(value, Version) else v(value)


def version_range(min_version=None, max_version=None):
    """Declare the versions a handler serves (inclusive); default MIN..MAX.

    ``min_version``/``max_version`` are the named versions of this module.

    The router answers 404 for a request whose version is outside the range
    of every handler of a URL and method, as Cinder does.
    """
    lo = _as_version(min_version, MIN)
    hi = _as_version(max_version, MAX)

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
