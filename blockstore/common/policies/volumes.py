"""Volumes, their metadata and their actions."""

from blockstore.common.policies import base

A, M, R = base.RULE_ADMIN_API, base.ADMIN_OR_MEMBER, base.ADMIN_OR_READER
V = '/volumes/{volume_id}'
ACT = ('POST', V + '/action')
VA = 'volume_extension:volume_actions:'
ADMIN = 'volume_extension:volume_admin_actions:'

rules = [
    base.rule('volume:create', M, 'Create a volume.', [('POST', '/volumes')]),
    base.rule('volume:get', R, 'Show a volume.', [('GET', V)]),
    base.rule('volume:get_all', R, 'List volumes or get a summary of volumes.',
              [('GET', '/volumes'), ('GET', '/volumes/detail'), ('GET', '/volumes/summary')]),
    base.rule('volume:update', M, 'Update a volume.', [('PUT', V)]),
    base.rule('volume:delete', M, 'Delete a volume.', [('DELETE', V)]),
    base.rule('volume:force_delete', A, 'Force delete a volume (3.23 ?force=true).',
              [('DELETE', V)]),
    base.rule('volume:get_volume_metadata', R, "Show a volume's metadata or one key.",
              [('GET', V + '/metadata'), ('GET', V + '/metadata/{key}')]),
    base.rule('volume:create_volume_metadata', M, 'Create volume metadata.',
              [('POST', V + '/metadata')]),
    base.rule('volume:update_volume_metadata', M, "Replace a volume's metadata or a key.",
              [('PUT', V + '/metadata'), ('PUT', V + '/metadata/{key}')]),
    base.rule('volume:delete_volume_metadata', M, 'Delete a volume metadata key.',
              [('DELETE', V + '/metadata/{key}')]),
    base.rule('volume:extend', M, 'Extend a volume (os-extend).', [ACT]),
    base.rule('volume:extend_attached_volume', M, 'Extend an attached volume (3.42).',
              [ACT]),
    base.rule(ADMIN + 'extend_volume_completion', A,
              'Complete the extend of an attached volume (3.71 '
              'os-extend_volume_completion; the compute service calls it).', [ACT]),
    base.rule('volume:reimage', M, 'Re-image a volume (3.68 os-reimage).', [ACT]),
    base.rule('volume:reimage_reserved', M,
              'Re-image a reserved volume (os-reimage with reimage_reserved).', [ACT]),
    base.rule('volume:retype', M, 'Retype a volume (os-retype).', [ACT]),
    base.rule('volume:revert_to_snapshot', M, 'Revert a volume to its latest snapshot.',
              [ACT]),
    base.rule('volume:update_readonly_flag', M, 'Set the read-only flag of a volume.', [ACT]),
    base.rule(VA + 'set_bootable', M, 'Set the bootable flag of a volume.', [ACT]),
    base.rule('volume_extension:volume_image_metadata:set', M,
              'Set image metadata of a volume (os-set_image_metadata).', [ACT]),
    base.rule('volume_extension:volume_image_metadata:remove', M,
              'Remove image metadata of a volume (os-unset_image_metadata).', [ACT]),
    base.rule('volume_extension:volume_image_metadata:show', R,
              'Show image metadata of a volume (os-show_image_metadata).', [ACT]),
    base.rule(VA + 'initialize_connection', M, 'Initialize a volume connection.', [ACT]),
    base.rule(VA + 'terminate_connection', M, 'Terminate a volume connection.', [ACT]),
    base.rule(VA + 'reserve', M, 'Reserve a volume for attachment.', [ACT]),
    base.rule(VA + 'unreserve', M, 'Unreserve a volume.', [ACT]),
    base.rule(VA + 'begin_detaching', M, 'Begin detaching a volume.', [ACT]),
    base.rule(VA + 'roll_detaching', M, 'Roll back detaching a volume.', [ACT]),
    base.rule(VA + 'attach', M, 'Mark a volume attached (os-attach).', [ACT]),
    base.rule(VA + 'detach', M, 'Mark a volume detached (os-detach).', [ACT]),
    base.rule(VA + 'upload_image', M, 'Upload a volume to an image.', [ACT]),
    base.rule(VA + 'upload_public', A, 'Upload a volume to an image with public visibility.',
              [ACT]),
    base.rule(ADMIN + 'reset_status', A, 'Reset the status of a volume.', [ACT]),
    base.rule(ADMIN + 'force_delete', A, 'Force delete a volume (os-force_delete).', [ACT]),
    base.rule(ADMIN + 'force_detach', A, 'Force detach a volume.', [ACT]),
    base.rule(ADMIN + 'migrate_volume', A, 'Migrate a volume.', [ACT]),
    base.rule(ADMIN + 'migrate_volume_completion', A, 'Complete a volume migration.', [ACT]),
    base.rule('volume_extension:volume_unmanage', A, 'Unmanage a volume (os-unmanage).',
              [ACT]),
]


def list_rules():
    return rules
