"""Backups, generic volume groups, group types, group snapshots, volume encryption
metadata and back-end capabilities (Cinder's rule names)."""

from blockstore.common.policies import base

A, M, R = base.RULE_ADMIN_API, base.ADMIN_OR_MEMBER, base.ADMIN_OR_READER
B = '/backups'
B1 = B + '/{backup_id}'
G = '/groups'
G1 = G + '/{group_id}'
GT = '/group_types'
GT1 = GT + '/{group_type_id}'
GS = GT1 + '/group_specs'
GSN = '/group_snapshots'
GSN1 = GSN + '/{group_snapshot_id}'

rules = [
    base.rule('volume_extension:volume_encryption_metadata', R,
              'Show the encryption metadata of a volume.',
              [('GET', '/volumes/{volume_id}/encryption'),
               ('GET', '/volumes/{volume_id}/encryption/{key}')]),
    base.rule('volume_extension:capabilities', A, 'Show the capabilities of a back end.',
              [('GET', '/capabilities/{hostname}')]),
    base.rule('backup:get_all', R, 'List backups.', [('GET', B), ('GET', B + '/detail')]),
    base.rule('backup:get', R, 'Show a backup.', [('GET', B1)]),
    base.rule('backup:create', M, 'Create a backup.', [('POST', B)]),
    base.rule('backup:update', M, 'Update a backup.', [('PUT', B1)]),
    base.rule('backup:delete', M, 'Delete a backup.', [('DELETE', B1)]),
    base.rule('backup:restore', M, 'Restore a backup.', [('POST', B1 + '/restore')]),
    base.rule('backup:backup_project_attribute', A,
              "Show a backup's project and user (os-backup-project-attr:project_id 3.18, "
              'user_id 3.56) and its progress (os-backup-progress:*, ours).',
              [('GET', B1), ('GET', B + '/detail')]),
    base.rule('backup:backup-import', A, 'Import a backup record.',
              [('POST', B + '/import_record')]),
    base.rule('backup:export-import', A, 'Export a backup record.',
              [('GET', B1 + '/export_record')]),
    base.rule('volume_extension:backup_admin_actions:reset_status', A,
              'Reset the status of a backup.', [('POST', B1 + '/action')]),
    base.rule('volume_extension:backup_admin_actions:force_delete', A,
              'Force-delete a backup.', [('POST', B1 + '/action')]),
    base.rule('group:get_all', R, 'List groups.', [('GET', G), ('GET', G + '/detail')]),
    base.rule('group:get', R, 'Show a group.', [('GET', G1)]),
    base.rule('group:create', M, 'Create a group, or one from a source.',
              [('POST', G), ('POST', G + '/action')]),
    base.rule('group:update', M, 'Update a group.', [('PUT', G1)]),
    base.rule('group:delete', M, 'Delete a group.', [('POST', G1 + '/action')]),
    base.rule('group:reset_status', A, 'Reset the status of a group.',
              [('POST', G1 + '/action')]),
    base.rule('group:enable_replication', M, 'Enable replication of a group.',
              [('POST', G1 + '/action')]),
    base.rule('group:disable_replication', M, 'Disable replication of a group.',
              [('POST', G1 + '/action')]),
    base.rule('group:failover_replication', M, 'Fail over the replication of a group.',
              [('POST', G1 + '/action')]),
    base.rule('group:list_replication_targets', M,
              'List the replication targets of a group.', [('POST', G1 + '/action')]),
    base.rule('group:group_types:get_all', base.ANY_AUTHENTICATED, 'List group types.',
              [('GET', GT)]),
    base.rule('group:group_types:get', base.ANY_AUTHENTICATED,
              'Show a group type, or the default one.',
              [('GET', GT1), ('GET', GT + '/default')]),
    base.rule('group:group_types:create', A, 'Create a group type.', [('POST', GT)]),
    base.rule('group:group_types:update', A, 'Update a group type.', [('PUT', GT1)]),
    base.rule('group:group_types:delete', A, 'Delete a group type.', [('DELETE', GT1)]),
    base.rule('group:group_types_specs:get_all', A, 'List the specs of a group type.',
              [('GET', GS)]),
    base.rule('group:group_types_specs:get', A, 'Show a spec of a group type.',
              [('GET', GS + '/{key}')]),
    base.rule('group:group_types_specs:create', A, 'Add specs to a group type.',
              [('POST', GS)]),
    base.rule('group:group_types_specs:update', A, 'Update a spec of a group type.',
              [('PUT', GS + '/{key}')]),
    base.rule('group:group_types_specs:delete', A, 'Delete a spec of a group type.',
              [('DELETE', GS + '/{key}')]),
    base.rule('group:get_all_group_snapshots', R, 'List group snapshots.',
              [('GET', GSN), ('GET', GSN + '/detail')]),
    base.rule('group:get_group_snapshot', R, 'Show a group snapshot.', [('GET', GSN1)]),
    base.rule('group:create_group_snapshot', M, 'Create a group snapshot.', [('POST', GSN)]),
    base.rule('group:delete_group_snapshot', M, 'Delete a group snapshot.',
              [('DELETE', GSN1)]),
    base.rule('group:reset_group_snapshot_status', A,
              'Reset the status of a group snapshot.', [('POST', GSN1 + '/action')]),
]


def list_rules():
    return rules
