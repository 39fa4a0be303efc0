"""The attachments API (3.27+) and who may remove a compute service's attachment."""

from blockstore.common.policies import base

M, R = base.ADMIN_OR_MEMBER, base.ADMIN_OR_READER
A = '/attachments/{attachment_id}'

rules = [
    base.rule('volume:attachment_create', M, 'Create an attachment (reserve a volume).',
              [('POST', '/attachments')]),
    base.rule('volume:attachment_update', M, 'Connect an attachment (with a connector).',
              [('PUT', A)]),
    base.rule('volume:attachment_complete', M, 'Mark an attachment complete (os-complete).',
              [('POST', A + '/action')]),
    base.rule('volume:attachment_delete', M, 'Delete an attachment.', [('DELETE', A)]),
    base.rule('volume:attachment_get', R, 'Show an attachment.', [('GET', A)]),
    base.rule('volume:attachment_get_all', R, 'List attachments.',
              [('GET', '/attachments'), ('GET', '/attachments/detail')]),
    base.rule('volume:multiattach_bootable_volume', M,
              'Attach a bootable multiattach volume to more than one instance.',
              [('POST', '/attachments')]),
    # Cinder's fix of LP #2004555: a user must not pull a volume out from under a
    # compute host. An attachment created with the service role is deleted (or its
    # connection terminated, or detached) only by a request with that role.
    base.rule('volume:attachment_delete_service_attachment', base.SERVICE_API,
              "Delete, detach or disconnect an attachment a compute service created "
              "(the caller needs the service's role, e.g. through a service token).",
              [('DELETE', A), ('POST', '/volumes/{volume_id}/action')]),
    # Not in Cinder: take back the attachments of a host that is gone for good.
    base.rule('volume:attachment_reclaim', base.RULE_ADMIN_API,
              "Reclaim every attachment of a dead host: revoke its access on the backends "
              "and delete the attachments.", [('POST', '/attachments/reclaim')]),
]


def list_rules():
    return rules
