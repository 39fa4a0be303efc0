"""Clusters (3.7) in Cinder's wire format; replication fields since 3.26."""

from blockstore.api.views import fields as F


def _when(name):
    """Cinder shows a missing cluster date as ''."""
    def get(c, rc):
        value = getattr(c, name)
        return F.format_time(value) if value is not None else ''
    return get


def _state(c, rc):
    return 'up' if c.is_up else 'down'


def _status(c, rc):
    return 'disabled' if c.disabled else 'enabled'


FIELDS = F.FieldTable([
    F.Field('name', F.attr('name'), kinds=F.ALL_KINDS),
    F.Field('binary', F.attr('binary'), kinds=F.ALL_KINDS),
    F.Field('state', _state, kinds=F.ALL_KINDS),
    F.Field('status', _status, kinds=F.ALL_KINDS),
    F.Field('replication_status', F.attr('replication_status'), since='3.26',
            kinds=F.ALL_KINDS),
    F.Field('num_hosts', F.attr('num_hosts')),
    F.Field('num_down_hosts', F.attr('num_down_hosts')),
    F.Field('last_heartbeat', _when('last_heartbeat')),
    F.Field('created_at', _when('created_at')),
    F.Field('updated_at', _when('updated_at')),
    F.Field('disabled_reason', F.attr('disabled_reason')),
    F.Field('frozen', F.attr('frozen'), since='3.26'),
    F.Field('active_backend_id', F.attr('active_backend_id'), since='3.26'),
])


def show(version, cluster):
    return {'cluster': FIELDS.plan(F.DETAIL, version, True).render(cluster, None)}


def index(version, clusters, detail):
    plan = FIELDS.plan(F.DETAIL if detail else F.SUMMARY, version, True)
    return {'clusters': [plan.render(c, None) for c in clusters]}


def update(version, cluster, disabled_reason):
    """The enable/disable answer: the summary plus the reason given."""
    body = FIELDS.plan(F.SUMMARY, version, True).render(cluster, None)
    body['disabled_reason'] = disabled_reason
    return {'cluster': body}
