"""Quota sets, quota class sets and limits in Cinder's wire format."""

# Absolute limits of GET /limits: quota resource -> Cinder's names (limit, in use).
LIMIT_NAMES = (
    ('volumes', 'maxTotalVolumes', 'totalVolumesUsed'),
    ('gigabytes', 'maxTotalVolumeGigabytes', 'totalGigabytesUsed'),
    ('snapshots', 'maxTotalSnapshots', 'totalSnapshotsUsed'),
    ('backups', 'maxTotalBackups', 'totalBackupsUsed'),
    ('backup_gigabytes', 'maxTotalBackupGigabytes', 'totalBackupGigabytesUsed'),
)


def quota_set(project_id, quotas):
    """``{"quota_set": {...resources, "id": project}}`` (show and defaults)."""
    body = dict(quotas)
    body['id'] = str(project_id)
    return {'quota_set': body}


def quota_set_update(quotas):
    """The update response: limits only, no id (as Cinder)."""
    return {'quota_set': dict(quotas)}


def quota_class_set(class_name, quotas):
    body = dict(quotas)
    body['id'] = str(class_name)
    return {'quota_class_set': body}


def quota_class_set_update(quotas):
    return {'quota_class_set': dict(quotas)}


def limits(quotas):
    """``{"limits": {"rate": [], "absolute": {...}}}`` from {res: {limit, in_use, ...}}."""
    absolute = {}
    for resource, max_name, used_name in LIMIT_NAMES:
        q = quotas.get(resource)
        if q is None:
            continue
        absolute[max_name] = q['limit']
        absolute[used_name] = q['in_use']
    return {'limits': {'rate': [], 'absolute': absolute}}
