"""THE route table: every URL the API serves, each method mapped to a plain handler.

Handlers take a webob request and return a webob response; URL variables
are in ``req.urlvars``. A value may be a tuple of handlers with disjoint
``@microversion.version_range`` declarations; the router picks by version.
Every ``/v3/...`` URL is also served as ``/v3/{project_id}/...`` (see
``router.py``).
"""

from blockstore.api.handlers import snapshots
from blockstore.api.handlers import types
from blockstore.api.handlers import versions
from blockstore.api.handlers import volumes

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

    '/v3/types': {'GET': types.index, 'POST': types.create},
    '/v3/types/{type_id}': {'GET': types.show, 'PUT': types.update, 'DELETE': types.delete},
    '/v3/types/{type_id}/extra_specs': {'GET': types.extra_specs_index,
                                        'POST': types.extra_specs_create},
    '/v3/types/{type_id}/extra_specs/{key}': {'GET': types.extra_specs_show,
                                              'PUT': types.extra_specs_update,
                                              'DELETE': types.extra_specs_delete},
}
