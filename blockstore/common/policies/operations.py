"""Quotas, limits, services, clusters, hosts, zones, pools, messages, transfers,
manageable resources, workers and resource filters."""

from blockstore.common.policies import base

A, M, R = base.RULE_ADMIN_API, base.ADMIN_OR_MEMBER, base.ADMIN_OR_READER
QS = '/os-quota-sets/{project_id}'
TR = '/volume-transfers'
OTR = '/os-volume-transfer'

rules = [
    base.rule('volume_extension:quotas:show', R, 'Show the quotas of a project.',
              [('GET', QS), ('GET', QS + '/defaults')]),
    base.rule('volume_extension:quotas:update', A, 'Update the quotas of a project.',
              [('PUT', QS)]),
    base.rule('volume_extension:quotas:delete', A, 'Reset the quotas of a project.',
              [('DELETE', QS)]),
    base.rule('volume_extension:quota_classes', A, 'Show or update a quota class.',
              [('GET', '/os-quota-class-sets/{class_name}'),
               ('PUT', '/os-quota-class-sets/{class_name}')]),
    base.rule('limits_extension:used_limits', R, 'Show absolute limits and usage.',
              [('GET', '/limits')]),
    base.rule('volume_extension:services:index', A, 'List services.',
              [('GET', '/os-services')]),
    base.rule('volume_extension:services:update', A,
              'Enable, disable, freeze, thaw or fail over services.',
              [('PUT', '/os-services/{action}')]),
    base.rule('clusters:get_all', A, 'List clusters.',
              [('GET', '/clusters'), ('GET', '/clusters/detail')]),
    base.rule('clusters:get', A, 'Show a cluster.', [('GET', '/clusters/{name}')]),
    base.rule('clusters:update', A, 'Enable or disable a cluster.',
              [('PUT', '/clusters/{name}')]),
    base.rule('volume_extension:hosts', A, 'List hosts or show one.',
              [('GET', '/os-hosts'), ('GET', '/os-hosts/{host}')]),
    base.rule('volume_extension:availability_zone_list', base.ANY_AUTHENTICATED,
              'List availability zones.', [('GET', '/os-availability-zone')]),
    base.rule('scheduler_extension:scheduler_stats:get_pools', A,
              'List back-end storage pools.', [('GET', '/scheduler-stats/get_pools')]),
    base.rule('message:get_all', R, 'List messages.', [('GET', '/messages')]),
    base.rule('message:get', R, 'Show a message.', [('GET', '/messages/{message_id}')]),
    base.rule('message:delete', M, 'Delete a message.',
              [('DELETE', '/messages/{message_id}')]),
    base.rule('volume:get_all_transfers', R, 'List volume transfers.',
              [('GET', TR), ('GET', TR + '/detail'), ('GET', OTR), ('GET', OTR + '/detail')]),
    base.rule('volume:get_transfer', R, 'Show a volume transfer.',
              [('GET', TR + '/{transfer_id}'), ('GET', OTR + '/{transfer_id}')]),
    base.rule('volume:create_transfer', M, 'Create a volume transfer.',
              [('POST', TR), ('POST', OTR)]),
    base.rule('volume:accept_transfer', M, 'Accept a volume transfer.',
              [('POST', TR + '/{transfer_id}/accept'),
               ('POST', OTR + '/{transfer_id}/accept')]),
    base.rule('volume:delete_transfer', M, 'Delete a volume transfer.',
              [('DELETE', TR + '/{transfer_id}'), ('DELETE', OTR + '/{transfer_id}')]),
    base.rule('volume_extension:list_manageable', A,
              'List volumes or snapshots a back end could manage.',
              [('GET', '/manageable_volumes'), ('GET', '/manageable_volumes/detail'),
               ('GET', '/manageable_snapshots'), ('GET', '/manageable_snapshots/detail'),
               ('GET', '/os-volume-manage'), ('GET', '/os-volume-manage/detail'),
               ('GET', '/os-snapshot-manage'), ('GET', '/os-snapshot-manage/detail')]),
    base.rule('volume_extension:volume_manage', A, 'Manage an existing volume.',
              [('POST', '/manageable_volumes'), ('POST', '/os-volume-manage')]),
    base.rule('volume_extension:snapshot_manage', A, 'Manage an existing snapshot.',
              [('POST', '/manageable_snapshots'), ('POST', '/os-snapshot-manage')]),
    base.rule('workers:cleanup', A, 'Clean up resources left by dead services.',
              [('POST', '/workers/cleanup')]),
    base.rule('volume:resource_filters', base.ANY_AUTHENTICATED,
              'List the filters each resource list accepts.',
              [('GET', '/resource_filters')]),
]


def list_rules():
    return rules
