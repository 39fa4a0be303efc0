"""The ``/{collection}/{id}/metadata[/{key}]`` handlers, shared by volumes and snapshots.

Both resources serve Cinder's same six calls; ``handlers()`` builds them for
one resource from how to load it (with a policy rule), how to write its
metadata, and the request schemas.
"""

from blockstore.api import common
from blockstore.common import exception


def handlers(path, label, load, rules, update, delete_key, schemas):
    """The six handlers of ``path`` (e.g. '/volumes/{volume_id}').

    ``load(req, rule)`` returns the resource (checking ``rule``);
    ``rules``: dict with 'get', 'create', 'update', 'delete' policy names;
    ``update(req, resource, metadata, delete)`` returns the resulting dict;
    ``delete_key(req, resource, key)`` raises NotFound if the key is gone;
    ``schemas``: module with ``metadata_body`` and ``meta_item_body``.
    """
    def not_found(resource_id, key):
        return exception.NotFound('%s %s has no metadata with key %s.'
                                  % (label, resource_id, key))

    def metadata_index(req):
        resource = load(req, rules['get'])
        return common.json_response({'metadata': dict(resource.metadata)})

    def write(req, delete):
        body = common.validated_body(req, schemas.metadata_body)
        resource = load(req, rules['update'] if delete else rules['create'])
        md = update(req, resource, body['metadata'], delete)
        return common.json_response({'metadata': md})

    def metadata_create(req):
        return write(req, delete=False)

    def metadata_update_all(req):
        return write(req, delete=True)

    def metadata_show(req):
        resource = load(req, rules['get'])
        key = req.urlvars['key']
        if key not in resource.metadata:
            raise not_found(resource.id, key)
        return common.json_response({'meta': {key: resource.metadata[key]}})

    def metadata_update(req):
        key, value = common.single_meta_body(req, schemas.meta_item_body)
        resource = load(req, rules['update'])
        update(req, resource, {key: value}, False)
        return common.json_response({'meta': {key: value}})

    def metadata_delete(req):
        resource = load(req, rules['delete'])
        key = req.urlvars['key']
        if key not in resource.metadata:
            raise not_found(resource.id, key)
        try:
            delete_key(req, resource, key)
        except exception.NotFound:
            raise not_found(resource.id, key)
        return common.empty_response(200)

    docs = {
        metadata_index: 'GET %s/metadata' % path,
        metadata_create: 'POST %s/metadata: add or change keys.' % path,
        metadata_update_all: 'PUT %s/metadata: replace all metadata.' % path,
        metadata_show: 'GET %s/metadata/{key}' % path,
        metadata_update: 'PUT %s/metadata/{key}' % path,
        metadata_delete: 'DELETE %s/metadata/{key} -> 200.' % path,
    }
    for fn, doc in docs.items():
        fn.__doc__ = doc
    return {fn.__name__: fn for fn in docs}
