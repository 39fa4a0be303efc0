"""Attachments (3.27+): reserve, connect, complete (3.44), delete, show and list.

The compute service's side of attaching a volume. Attachments a compute
service created (a request with the service role) may be deleted only by
that role (policy ``volume:attachment_delete_service_attachment``).
"""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import attachments as schemas
from blockstore.api.schemas import parameter_types as pt
from blockstore.api.views import attachments as views
from blockstore.common import exception
from blockstore.common import idempotency
from blockstore.common import policy
from blockstore.volume.attach import reads as attachment_reads

SERVICE_ATTACHMENT = 'volume:attachment_delete_service_attachment'


def is_service_request(ctx):
    return bool(policy.authorize(ctx, 'service_api', {}, do_raise=False))


def protect_service_attachment(req, attachment):
    """403 unless the caller may remove an attachment a compute service made."""
    if attachment.service_created:
        common.authorize(req, SERVICE_ATTACHMENT, attachment)


def _attachment(req, action):
    ctx = common.context(req)
    attachment = common.volume_api(req).attachments.get_attachment(
        ctx, req.urlvars['attachment_id'])
    common.authorize(req, action, attachment)
    return attachment


def _list(req, detailed):
    ctx = common.authorize(req, 'volume:attachment_get_all')
    params = common.query_params(req)
    marker, limit, offset = common.pagination(params)
    sort_keys, sort_dirs = common.sort_params(params)
    all_tenants = common.lenient_bool(params.pop('all_tenants', 'false')) and ctx.is_admin
    with_count = (common.version(req) >= mv.SUPPORT_COUNT_INFO
                  and common.parse_bool(params.pop('with_count', 'false'), 'with_count'))
    filters = {}
    for key, value in params.items():
        if key not in attachment_reads.FILTER_COLUMNS or (key == 'project_id' and not ctx.is_admin):
            raise exception.InvalidInput(reason='Invalid filter keys: %s' % key)
        filters[key] = value
    api = common.volume_api(req)
    items = api.attachments.get_all_attachments(ctx, filters=filters, marker=marker,
                                                limit=limit, sort_keys=sort_keys,
                                                sort_dirs=sort_dirs, offset=offset,
                                                all_tenants=all_tenants)
    count = None
    if with_count:
        count = len(api.attachments.get_all_attachments(ctx, filters=filters,
                                                        all_tenants=all_tenants))
    return common.json_response(views.index(items, detailed, count))


@mv.version_range(mv.NEW_ATTACH)
def index(req):
    """GET /attachments"""
    return _list(req, detailed=False)


@mv.version_range(mv.NEW_ATTACH)
def detail(req):
    """GET /attachments/detail"""
    return _list(req, detailed=True)


@mv.version_range(mv.NEW_ATTACH)
def show(req):
    """GET /attachments/{attachment_id}"""
    return common.json_response(views.show(_attachment(req, 'volume:attachment_get')))


@mv.version_range(mv.NEW_ATTACH)
def create(req):
    """POST /attachments: reserve a volume (and connect it when a connector is given)."""
    body = common.validated_body(req, schemas.create)['attachment']
    ctx = common.context(req)
    api = common.volume_api(req)
    volume = api.get(ctx, body['volume_uuid'])
    common.authorize(req, 'volume:attachment_create', volume)
    mode = body.get('mode')
    if mode is not None and common.version(req) < mv.ATTACH_MODE:
        raise exception.InvalidInput(reason='mode is accepted from microversion 3.54')
    attachment = api.attachments.attachment_create(
        ctx, volume, instance_uuid=body.get('instance_uuid'),
        connector=body.get('connector') or None, mode=mode, service=is_service_request(ctx),
        idempotency=idempotency.request_of(req.headers, body))
    return common.json_response(views.show(attachment))


@mv.version_range(mv.NEW_ATTACH)
def update(req):
    """PUT /attachments/{attachment_id}: connect the host named by the connector."""
    body = common.validated_body(req, schemas.update)['attachment']
    attachment = _attachment(req, 'volume:attachment_update')
    updated = common.volume_api(req).attachments.attachment_update(common.context(req), attachment,
                                                                   body['connector'])
    return common.json_response(views.show(updated))


@mv.version_range(mv.NEW_ATTACH)
def delete(req):
    """DELETE /attachments/{attachment_id}: 200 with the volume's other attachments."""
    attachment = _attachment(req, 'volume:attachment_delete')
    protect_service_attachment(req, attachment)
    remaining = common.volume_api(req).attachments.attachment_delete(common.context(req),
                                                                     attachment)
    return common.json_response(views.index(remaining))


def _complete(req, body):
    common.validated_body(req, schemas.complete)
    attachment = _attachment(req, 'volume:attachment_complete')
    common.volume_api(req).attachments.attachment_complete(common.context(req), attachment)
    return common.empty_response(204)


ACTIONS = actions.Table({'os-complete': actions.Action(_complete)})


@mv.version_range(mv.ATTACHMENT_COMPLETE)
def action(req):
    """POST /attachments/{attachment_id}/action: os-complete (3.44)."""
    body = common.json_body(req)
    return actions.dispatch(req, ACTIONS, common.action_name(body), body)


@mv.version_range(mv.NEW_ATTACH)
def reclaim(req):
    """POST /attachments/reclaim {"host", "confirm_dead": true} (admin; not in Cinder).

    Detach every live attachment whose attached_host is ``host``, revoking the
    host's access on the backends: for hosts that are gone for good. 200 with
    what was reclaimed, what a down volume service will finish when it starts
    (pending) and what could not be reclaimed (failed), with the reasons.
    """
    ctx = common.require_admin(req, 'volume:attachment_reclaim')
    body = common.validated_body(req, schemas.reclaim)
    if not pt.bool_value(body['confirm_dead']):
        raise exception.InvalidInput(
            reason='Reclaiming revokes the access of host %s to its volumes: confirm that it '
                   'is dead with "confirm_dead": true' % body['host'])
    reclaimed, pending, failed = common.volume_api(req).attachments.reclaim_host(ctx, body['host'])
    return common.json_response({'host': body['host'], 'reclaimed': reclaimed,
                                 'pending': pending, 'failed': failed})


# -- legacy volume actions (POST /volumes/{volume_id}/action) --------------------------

VA = 'volume_extension:volume_actions:'


def _legacy(req, body, name, rule):
    args = schemas.LEGACY_ACTIONS[name].validate(body, common.version(req))[name] or {}
    ctx = common.context(req)
    volume = common.volume_api(req).get(ctx, req.urlvars['volume_id'])
    common.authorize(req, rule, volume)
    return ctx, volume, args


def reserve(req, body):
    ctx, volume, _args = _legacy(req, body, 'os-reserve', VA + 'reserve')
    common.volume_api(req).attachments.reserve(ctx, volume, service=is_service_request(ctx))
    return common.empty_response(202)


def unreserve(req, body):
    ctx, volume, _args = _legacy(req, body, 'os-unreserve', VA + 'unreserve')
    common.volume_api(req).attachments.unreserve(ctx, volume)
    return common.empty_response(202)


def begin_detaching(req, body):
    ctx, volume, _args = _legacy(req, body, 'os-begin_detaching', VA + 'begin_detaching')
    common.volume_api(req).attachments.begin_detaching(ctx, volume)
    return common.empty_response(202)


def roll_detaching(req, body):
    ctx, volume, _args = _legacy(req, body, 'os-roll_detaching', VA + 'roll_detaching')
    common.volume_api(req).attachments.roll_detaching(ctx, volume)
    return common.empty_response(202)


def attach(req, body):
    ctx, volume, args = _legacy(req, body, 'os-attach', VA + 'attach')
    common.volume_api(req).attachments.attach(ctx, volume, instance_uuid=args.get('instance_uuid'),
                                              host_name=args.get('host_name'),
                                              mountpoint=args.get('mountpoint'),
                                              mode=args.get('mode') or 'rw')
    return common.empty_response(202)


def detach(req, body):
    ctx, volume, args = _legacy(req, body, 'os-detach', VA + 'detach')
    api = common.volume_api(req)
    attachment = api.attachments.attachment_to_detach(ctx, volume, args.get('attachment_id'))
    protect_service_attachment(req, attachment)
    api.attachments.detach(ctx, volume, attachment.id)
    return common.empty_response(202)


def force_detach(req, body):
    ctx, volume, args = _legacy(req, body, 'os-force_detach',
                                'volume_extension:volume_admin_actions:force_detach')
    common.volume_api(req).attachments.force_detach(ctx, volume,
                                                    attachment_id=args.get('attachment_id'),
                                                    connector=args.get('connector') or None)
    return common.empty_response(202)


def protect_connection(req, volume, connector):
    """os-terminate_connection: a compute service's connections need its role."""
    if not isinstance(connector, dict):
        return   # the service layer refuses it with a 400
    for a in attachment_reads.service_attachments(common.context(req), volume.id,
                                                  connector.get('initiator')):
        common.authorize(req, SERVICE_ATTACHMENT, a)


LEGACY_ACTIONS = {
    'os-reserve': actions.Action(reserve), 'os-unreserve': actions.Action(unreserve),
    'os-begin_detaching': actions.Action(begin_detaching),
    'os-roll_detaching': actions.Action(roll_detaching),
    'os-attach': actions.Action(attach), 'os-detach': actions.Action(detach),
    'os-force_detach': actions.Action(force_detach),
}
