"""Attachment views in Cinder's wire format (3.27+)."""

from blockstore.api.views import fields as F


def summary(a):
    return {'id': a.id, 'status': a.attach_status, 'instance': a.instance_uuid,
            'volume_id': a.volume_id}


def detail(a):
    body = summary(a)
    body.update({'attached_at': F.format_time(a.attach_time),
                 'detached_at': F.format_time(a.detach_time),
                 'attach_mode': a.attach_mode,
                 'connection_info': a.connection_info or {}})
    return body


def show(a):
    return {'attachment': detail(a)}


def index(items, detailed=False, count=None):
    body = {'attachments': [detail(a) if detailed else summary(a) for a in items]}
    if count is not None:
        body['count'] = count
    return body
