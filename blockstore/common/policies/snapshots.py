"""Snapshots, their metadata and their actions."""

from blockstore.common.policies import base

A, M, R = base.RULE_ADMIN_API, base.ADMIN_OR_MEMBER, base.ADMIN_OR_READER
S = '/snapshots/{snapshot_id}'
ACT = ('POST', S + '/action')
ADMIN = 'volume_extension:snapshot_admin_actions:'

rules = [
    base.rule('volume:create_snapshot', M, 'Create a snapshot.', [('POST', '/snapshots')]),
    base.rule('volume:get_snapshot', R, 'Show a snapshot.', [('GET', S)]),
    base.rule('volume:get_all_snapshots', R, 'List snapshots.',
              [('GET', '/snapshots'), ('GET', '/snapshots/detail')]),
    base.rule('volume:update_snapshot', M, 'Update a snapshot.', [('PUT', S)]),
    base.rule('volume:delete_snapshot', M, 'Delete a snapshot.', [('DELETE', S)]),
    base.rule('volume:get_snapshot_metadata', R, "Show a snapshot's metadata or one key.",
              [('GET', S + '/metadata'), ('GET', S + '/metadata/{key}')]),
    base.rule('volume:update_snapshot_metadata', M, 'Create or replace snapshot metadata.',
              [('POST', S + '/metadata'), ('PUT', S + '/metadata'),
               ('PUT', S + '/metadata/{key}')]),
    base.rule('volume:delete_snapshot_metadata', M, 'Delete a snapshot metadata key.',
              [('DELETE', S + '/metadata/{key}')]),
    base.rule(ADMIN + 'reset_status', A, 'Reset the status of a snapshot.', [ACT]),
    base.rule(ADMIN + 'force_delete', A, 'Force delete a snapshot.', [ACT]),
    base.rule(ADMIN + 'update_progress', A, 'Update the progress of a snapshot.', [ACT]),
    base.rule('volume_extension:snapshot_unmanage', A, 'Unmanage a snapshot.', [ACT]),
    base.rule('snapshot_extension:snapshot_actions:update_snapshot_status', M,
              "Report a snapshot's status (a compute host taking it: os-update_snapshot_status).",
              [ACT]),
]


def list_rules():
    return rules
