"""Services (os-services), hosts (os-hosts) and availability zones in Cinder's format."""

from blockstore.api.views import fields as F

SERVICE = 'service'

# Fields only volume services have (Cinder adds them for cinder-volume only).
VOLUME_ONLY = frozenset(('backend_state', 'replication_status', 'active_backend_id',
                         'frozen'))

# The backup service is reported by Cinder's name: tools look for a live
# ``cinder-backup`` to decide whether backups are offered (filters accept both).
REPORTED_BINARY = {'blockstore-backup': 'cinder-backup'}



def _binary(info, _rc):
    return REPORTED_BINARY.get(info.binary, info.binary)


SERVICE_FIELDS = F.FieldTable([
    F.Field('binary', _binary),
    F.Field('host', F.attr('host')),
    F.Field('zone', F.attr('availability_zone')),
    F.Field('status', F.attr('status')),
    F.Field('state', F.attr('state')),
    F.Field('updated_at', F.time_attr('updated_at')),
    F.Field('backend_state', F.attr('backend_state'), since='3.49'),
    F.Field('cluster', F.attr('cluster_name'), since='3.7'),
    F.Field('disabled_reason', F.attr('disabled_reason')),
    F.Field('replication_status', F.attr('replication_status')),
    F.Field('active_backend_id', F.attr('active_backend_id')),
    F.Field('frozen', F.attr('frozen')),
])


def services(version, infos):
    plan = SERVICE_FIELDS.plan(F.DETAIL, version, True)
    out = []
    for info in infos:
        item = plan.render(info, None)
        if not info.is_volume:
            for name in VOLUME_ONLY:
                item.pop(name, None)
        out.append(item)
    return {'services': out}


_ABSENT = object()


def service_update(host, service, binary, disabled, reason=_ABSENT):
    """PUT /os-services/{enable,disable,disable-log-reason}: what Cinder answers.

    ``disabled_reason`` is in the answer of enable (null) and disable-log-reason.
    """
    body = {'host': host, 'service': service, 'binary': binary,
            'status': 'disabled' if disabled else 'enabled', 'disabled': disabled}
    if reason is not _ABSENT:
        body['disabled_reason'] = reason
    return body


def hosts(infos):
    return {'hosts': [{'host_name': i.host, 'service': i.topic, 'zone': i.availability_zone,
                       'service-status': 'available' if i.is_up else 'unavailable',
                       'service-state': i.status, 'last-update': F.format_time(i.updated_at)}
                      for i in infos]}


def _resource(host, project, usage):
    volumes, gb, snaps, snap_gb = usage
    return {'resource': {'host': host, 'project': project, 'volume_count': str(volumes),
                         'total_volume_gb': str(gb), 'snapshot_count': str(snaps),
                         'total_snapshot_gb': str(snap_gb)}}


def host_show(host, total, per_project):
    """``{"host": [{"resource": {...}}, ...]}``: '(total)' first, then each project."""
    items = [_resource(host, '(total)', total)]
    items += [_resource(host, p, u) for p, u in sorted(per_project.items())]
    return {'host': items}


def availability_zones(zones):
    return {'availabilityZoneInfo': [{'zoneName': name, 'zoneState': {'available': ok}}
                                     for name, ok in zones]}
