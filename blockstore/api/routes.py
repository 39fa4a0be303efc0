"""THE route table: every URL the API serves, each method mapped to a plain handler.

Handlers take a webob request and return a webob response; URL variables
are in ``req.urlvars``. A value may be a tuple of handlers with disjoint
``@microversion.version_range`` declarations; the router picks by version.
Every ``/v3/...`` URL is also served as ``/v3/{project_id}/...`` (see
``router.py``).
"""

from blockstore.api.handlers import attachments
from blockstore.api.handlers import snapshots
from blockstore.api.handlers import types
from blockstore.api.handlers import versions
from blockstore.api.handlers import volumes
from blockstore.api.handlers import qos_specs  # -- types, qos, actions, transfers
from blockstore.api import openapi  # -- types, qos, actions, transfers
from blockstore.api.handlers import manageable  # -- types, qos, actions, transfers
from blockstore.api.handlers import transfers  # -- types, qos, actions, transfers
from blockstore.api.handlers import availability_zones  # -- operations and quotas
from blockstore.api.handlers import clusters  # -- operations and quotas
from blockstore.api.handlers import hosts  # -- operations and quotas
from blockstore.api.handlers import messages  # -- operations and quotas
from blockstore.api.handlers import pools  # -- operations and quotas
from blockstore.api.handlers import quotas  # -- operations and quotas
from blockstore.api.handlers import resource_filters  # -- operations and quotas
from blockstore.api.handlers import services  # -- operations and quotas
from blockstore.api.handlers import workers  # -- operations and quotas
from blockstore.api.handlers import backups  # -- backups and groups
from blockstore.api.handlers import groups  # -- backups and groups
from blockstore.api.handlers import volume_encryption  # -- backups and groups
from blockstore.api.handlers import capabilities  # -- backups and groups

ROUTES = {
    '/': {'GET': versions.root},
    '/v3': {'GET': versions.v3},

    '/v3/volumes': {'GET': volumes.index, 'POST': volumes.create},
    '/v3/volumes/detail': {'GET': volumes.detail},
    '/v3/volumes/summary': {'GET': volumes.summary},
    '/v3/volumes/{volume_id}': {'GET': volumes.show, 'PUT': volumes.update,
                                'DELETE': volumes.delete},
    '/v3/volumes/{volume_id}/action': {'POST': volumes.action},
    '/v3/volumes/{volume_id}/metadata': {'GET': volumes.metadata_index,
                                         'POST': volumes.metadata_create,
                                         'PUT': volumes.metadata_update_all},
    '/v3/volumes/{volume_id}/metadata/{key}': {'GET': volumes.metadata_show,
                                               'PUT': volumes.metadata_update,
                                               'DELETE': volumes.metadata_delete},

    '/v3/snapshots': {'GET': snapshots.index, 'POST': snapshots.create},
    '/v3/snapshots/detail': {'GET': snapshots.detail},
    '/v3/snapshots/{snapshot_id}': {'GET': snapshots.show, 'PUT': snapshots.update,
                                    'DELETE': snapshots.delete},
    '/v3/snapshots/{snapshot_id}/action': {'POST': snapshots.action},
    '/v3/snapshots/{snapshot_id}/metadata': {'GET': snapshots.metadata_index,
                                             'POST': snapshots.metadata_create,
                                             'PUT': snapshots.metadata_update_all},
    '/v3/snapshots/{snapshot_id}/metadata/{key}': {'GET': snapshots.metadata_show,
                                                   'PUT': snapshots.metadata_update,
                                                   'DELETE': snapshots.metadata_delete},

    '/v3/attachments': {'GET': attachments.index, 'POST': attachments.create},
    '/v3/attachments/detail': {'GET': attachments.detail},
    '/v3/attachments/reclaim': {'POST': attachments.reclaim},
    '/v3/attachments/{attachment_id}': {'GET': attachments.show, 'PUT': attachments.update,
                                        'DELETE': attachments.delete},
    '/v3/attachments/{attachment_id}/action': {'POST': attachments.action},

    '/v3/types': {'GET': types.index, 'POST': types.create},
    '/v3/types/{type_id}': {'GET': types.show, 'PUT': types.update, 'DELETE': types.delete},
    '/v3/types/{type_id}/extra_specs': {'GET': types.extra_specs_index,
                                        'POST': types.extra_specs_create},
    '/v3/types/{type_id}/extra_specs/{key}': {'GET': types.extra_specs_show,
                                              'PUT': types.extra_specs_update,
                                              'DELETE': types.extra_specs_delete},

    # -- types, qos, actions, transfers
    '/v3/types/{type_id}/action': {'POST': types.action},
    '/v3/types/{type_id}/os-volume-type-access': {'GET': types.access_index},
    '/v3/types/{type_id}/encryption': {'GET': types.encryption_index,
                                       'POST': types.encryption_create},
    '/v3/types/{type_id}/encryption/{spec}': {'GET': types.encryption_show,
                                              'PUT': types.encryption_update,
                                              'DELETE': types.encryption_delete},
    '/v3/default-types': {'GET': types.default_index},
    '/v3/default-types/{project_id}': {'GET': types.default_show, 'PUT': types.default_set,
                                       'DELETE': types.default_delete},
    '/v3/qos-specs': {'GET': qos_specs.index, 'POST': qos_specs.create},
    '/v3/qos-specs/{qos_id}': {'GET': qos_specs.show, 'PUT': qos_specs.update,
                               'DELETE': qos_specs.delete},
    '/v3/qos-specs/{qos_id}/delete_keys': {'PUT': qos_specs.delete_keys},
    '/v3/qos-specs/{qos_id}/associations': {'GET': qos_specs.associations},
    '/v3/qos-specs/{qos_id}/associate': {'GET': qos_specs.associate},
    '/v3/qos-specs/{qos_id}/disassociate': {'GET': qos_specs.disassociate},
    '/v3/qos-specs/{qos_id}/disassociate_all': {'GET': qos_specs.disassociate_all},
    '/v3/volume-transfers': {'GET': transfers.v355_index, 'POST': transfers.v355_create},
    '/v3/volume-transfers/detail': {'GET': transfers.v355_detail},
    '/v3/volume-transfers/{transfer_id}': {'GET': transfers.v355_show,
                                           'DELETE': transfers.v355_delete},
    '/v3/volume-transfers/{transfer_id}/accept': {'POST': transfers.v355_accept},
    '/v3/os-volume-transfer': {'GET': transfers.index, 'POST': transfers.create},
    '/v3/os-volume-transfer/detail': {'GET': transfers.detail},
    '/v3/os-volume-transfer/{transfer_id}': {'GET': transfers.show, 'DELETE': transfers.delete},
    '/v3/os-volume-transfer/{transfer_id}/accept': {'POST': transfers.accept},
    '/v3/manageable_volumes': {'GET': manageable.v38_volumes_index,
                               'POST': manageable.v38_manage_volume},
    '/v3/manageable_volumes/detail': {'GET': manageable.v38_volumes_detail},
    '/v3/manageable_snapshots': {'GET': manageable.v38_snapshots_index,
                                 'POST': manageable.v38_manage_snapshot},
    '/v3/manageable_snapshots/detail': {'GET': manageable.v38_snapshots_detail},
    '/v3/os-volume-manage': {'GET': manageable.volumes_index, 'POST': manageable.manage_volume},
    '/v3/os-volume-manage/detail': {'GET': manageable.volumes_detail},
    '/v3/os-snapshot-manage': {'GET': manageable.snapshots_index,
                               'POST': manageable.manage_snapshot},
    '/v3/os-snapshot-manage/detail': {'GET': manageable.snapshots_detail},
    '/v3/openapi.json': {'GET': openapi.serve},
    # -- end types, qos, actions, transfers

    # -- operations and quotas
    '/v3/os-quota-sets/{project_id}': {'GET': quotas.show, 'PUT': quotas.update,
                                       'DELETE': quotas.delete},
    '/v3/os-quota-sets/{project_id}/defaults': {'GET': quotas.defaults},
    '/v3/os-quota-class-sets/{class_name}': {'GET': quotas.class_show,
                                             'PUT': quotas.class_update},
    '/v3/limits': {'GET': quotas.limits},
    '/v3/os-services': {'GET': services.index},
    '/v3/os-services/{action}': {'PUT': services.update},
    '/v3/clusters': {'GET': clusters.index},
    '/v3/clusters/detail': {'GET': clusters.detail},
    '/v3/clusters/{name}': {'GET': clusters.show, 'PUT': clusters.update},
    '/v3/os-availability-zone': {'GET': availability_zones.index},
    '/v3/os-hosts': {'GET': hosts.index},
    '/v3/os-hosts/{host}': {'GET': hosts.show},
    '/v3/scheduler-stats/get_pools': {'GET': pools.get_pools},
    '/v3/messages': {'GET': messages.index},
    '/v3/messages/{message_id}': {'GET': messages.show, 'DELETE': messages.delete},
    '/v3/resource_filters': {'GET': resource_filters.index},
    '/v3/workers/cleanup': {'POST': workers.cleanup},
    # -- end operations and quotas

    # -- backups and groups (no group support yet: honest answers)
    '/v3/backups': {'GET': backups.index, 'POST': backups.create},
    '/v3/backups/detail': {'GET': backups.detail},
    '/v3/backups/import_record': {'POST': backups.import_record},
    '/v3/backups/{backup_id}': {'GET': backups.show, 'PUT': backups.update,
                                'DELETE': backups.delete},
    '/v3/backups/{backup_id}/restore': {'POST': backups.restore},
    '/v3/backups/{backup_id}/action': {'POST': backups.action},
    '/v3/backups/{backup_id}/export_record': {'GET': backups.export_record},
    '/v3/groups': {'GET': groups.index, 'POST': groups.create},
    '/v3/groups/detail': {'GET': groups.detail},
    '/v3/groups/action': {'POST': groups.create_from_src},
    '/v3/groups/{group_id}': {'GET': groups.show, 'PUT': groups.update},
    '/v3/groups/{group_id}/action': {'POST': groups.action},
    '/v3/group_types': {'GET': groups.types_index, 'POST': groups.types_create},
    '/v3/group_types/default': {'GET': groups.types_default},
    '/v3/group_types/{group_type_id}': {'GET': groups.types_show, 'PUT': groups.types_update,
                                        'DELETE': groups.types_delete},
    '/v3/group_types/{group_type_id}/group_specs': {'GET': groups.specs_index,
                                                    'POST': groups.specs_create},
    '/v3/group_types/{group_type_id}/group_specs/{key}': {'GET': groups.specs_show,
                                                          'PUT': groups.specs_update,
                                                          'DELETE': groups.specs_delete},
    '/v3/group_snapshots': {'GET': groups.snapshots_index, 'POST': groups.snapshots_create},
    '/v3/group_snapshots/detail': {'GET': groups.snapshots_detail},
    '/v3/group_snapshots/{group_snapshot_id}': {'GET': groups.snapshots_show,
                                                'DELETE': groups.snapshots_delete},
    '/v3/group_snapshots/{group_snapshot_id}/action': {'POST': groups.snapshots_action},
    '/v3/volumes/{volume_id}/encryption': {'GET': volume_encryption.index},
    '/v3/volumes/{volume_id}/encryption/{key}': {'GET': volume_encryption.show},
    '/v3/capabilities/{hostname}': {'GET': capabilities.show},
    # -- end backups and groups
}
