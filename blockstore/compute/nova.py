"""Telling the compute service (Nova) that a volume it uses has changed.

After an attached volume grows, each instance it is attached to must rescan
its disk: Cinder posts a ``volume-extended`` external event per instance to
Nova's ``/os-server-external-events`` API (microversion 2.51 or later). The
``[nova]`` section says how to reach Nova: a keystoneauth1 auth plugin
(``auth_type`` and its options, e.g. a service user with ``password``) and
session options, with the endpoint found in the Keystone catalog (service
type ``compute``, ``interface``, ``region_name``) unless ``endpoint_override``
names it. With an endpoint but no auth plugin the request's own token is
passed through. With neither, nothing is sent and a warning says so.

A failed notification never fails the operation that caused it: callers get
False and log/record it.
"""

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import service_client

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

GROUP = 'nova'
# The first Nova microversion that accepts the volume-extended event.
EVENTS_MICROVERSION = '2.51'
DEFAULT_TIMEOUT = 60

nova_opts = [
    cfg.StrOpt('endpoint_override',
               help='URL of the compute API (e.g. http://nova:8774/v2.1). When unset, it '
                    'is looked up in the Keystone catalog with the [nova] auth plugin.'),
    cfg.StrOpt('region_name', help='Region of the compute endpoint in the catalog.'),
    cfg.StrOpt('interface', default='public', choices=['public', 'internal', 'admin'],
               help='Which catalog endpoint of the compute service to use.'),
    cfg.StrOpt('api_microversion', default=EVENTS_MICROVERSION,
               help='Compute API microversion of the external events requests '
                    '(at least 2.51, which added volume-extended).'),
]


def register_opts(conf=CONF):
    service_client.register_opts(conf, GROUP, nova_opts)


def list_opts():
    return service_client.list_opts(GROUP, nova_opts)


register_opts()


def _session_and_auth(context):
    """(session, auth or None, endpoint or None), or None when nothing is configured."""
    group = CONF[GROUP]
    auth = ks_loading.load_auth_from_conf_options(CONF, GROUP) if group.auth_type else None
    if auth is None and not group.endpoint_override:
        return None
    sess = ks_loading.load_session_from_conf_options(CONF, GROUP, auth=auth)
    return sess, auth, group.endpoint_override


def external_events(context, events):
    """POST ``events`` to Nova; True when Nova accepted them (200 or 207).

    Never raises: a refusal, a timeout or a missing configuration is logged
    and answered False.
    """
    if not events:
        return True
    try:
        found = _session_and_auth(context)
    except Exception:
        LOG.exception('The [nova] section cannot be loaded; compute not notified of %s',
                      [e['name'] for e in events])
        return False
    if found is None:
        LOG.warning('No compute endpoint is configured ([nova] auth_type or '
                    'endpoint_override): compute not notified of %s for instances %s',
                    events[0]['name'], [e['server_uuid'] for e in events])
        return False
    sess, auth, endpoint = found
    group = CONF[GROUP]
    headers = {'OpenStack-API-Version': 'compute %s' % group.api_microversion,
               'X-OpenStack-Nova-API-Version': group.api_microversion}
    # Without [nova] timeout, a hung compute API must not hold the volume service forever.
    kwargs = {'json': {'events': events}, 'headers': headers, 'raise_exc': False,
              'timeout': group.timeout or DEFAULT_TIMEOUT}
    if auth is None:
        token = getattr(context, 'auth_token', None)
        if token:
            headers['X-Auth-Token'] = token
        kwargs['authenticated'] = False
    if endpoint:
        url = endpoint.rstrip('/') + '/os-server-external-events'
    else:
        url = '/os-server-external-events'
        kwargs['endpoint_filter'] = {'service_type': 'compute',
                                     'interface': group.interface,
                                     'region_name': group.region_name}
    try:
        resp = sess.post(url, **kwargs)
    except ks_exc.ClientException as e:
        LOG.warning('Compute did not receive %s for instances %s: %s', events[0]['name'],
                    [e_['server_uuid'] for e_ in events], e)
        return False
    if resp.status_code not in (200, 207):
        LOG.warning('Compute refused %s for instances %s: HTTP %s %s', events[0]['name'],
                    [e['server_uuid'] for e in events], resp.status_code, resp.text[:500])
        return False
    if resp.status_code == 207:
        LOG.warning('Compute took only some of the %s events: %s', events[0]['name'],
                    resp.text[:500])
    return True


def volume_extended(context, volume_id, instance_uuids):
    """Tell each instance that ``volume_id`` grew; True when Nova accepted it."""
    events = [{'name': 'volume-extended', 'server_uuid': uuid, 'tag': volume_id}
              for uuid in sorted(set(instance_uuids))]
    return external_events(context, events)


def volume_reimaged(context, volume_id, instance_uuids, failed=False):
    """Tell each instance that ``volume_id`` was re-imaged (3.68; Nova's rebuild waits
    for it); ``failed``: the reimage failed. True when Nova accepted it."""
    events = [{'name': 'volume-reimaged', 'server_uuid': uuid, 'tag': volume_id,
               'status': 'failed' if failed else 'completed'}
              for uuid in sorted(set(instance_uuids))]
    return external_events(context, events)
