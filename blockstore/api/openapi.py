"""The OpenAPI 3.1 document of the API, generated from the route table and the schemas.

One path per route of ``routes.ROUTES`` (the ``/v3/{project_id}/...`` forms
the router also serves are left out), its methods with the microversion
range their handlers serve, the ``OpenStack-API-Version`` header, request
bodies where a schema is declared (at the newest microversion), and Cinder's
error body for every error response.

A handler declares its body with ``validation.body_schema``, or is listed
in ``REQUEST_BODIES`` below. ``python -m blockstore.api.openapi [--output FILE]``
writes the document (``tox -e genopenapi`` writes etc/blockstore/openapi.json);
``GET /v3/openapi.json`` serves it without a token.
"""

import argparse
import json
import re
import sys

from blockstore.api import common
from blockstore.api import microversion
from blockstore.api.schemas import manageable as manage_schemas
from blockstore.api.schemas import qos_specs as qos_schemas
from blockstore.api.schemas import snapshots as snapshot_schemas
from blockstore.api.schemas import transfers as transfer_schemas
from blockstore.api.schemas import types as type_schemas
from blockstore.api.schemas import volume_actions as action_schemas
from blockstore.api.schemas import volumes as volume_schemas

TITLE = 'blockstore Block Storage API (OpenStack Cinder v3 compatible)'
ERROR_SCHEMA = {
    'type': 'object',
    'description': "Cinder's error body, e.g. "
                   '{"itemNotFound": {"code": 404, "message": "..."}}',
    'minProperties': 1,
    'maxProperties': 1,
    'additionalProperties': {
        'type': 'object',
        'properties': {'code': {'type': 'integer'}, 'message': {'type': 'string'}},
        'required': ['code', 'message'],
    },
}


def _actions(table):
    return ('actions', table)


# (path, method) -> Versioned schema, or ('actions', {name: Versioned}) for action URLs.
REQUEST_BODIES = {
    ('/v3/volumes', 'POST'): volume_schemas.create,
    ('/v3/volumes/{volume_id}', 'PUT'): volume_schemas.update,
    ('/v3/volumes/{volume_id}/metadata', 'POST'): volume_schemas.metadata_body,
    ('/v3/volumes/{volume_id}/metadata', 'PUT'): volume_schemas.metadata_body,
    ('/v3/volumes/{volume_id}/metadata/{key}', 'PUT'): volume_schemas.meta_item_body,
    ('/v3/volumes/{volume_id}/action', 'POST'): _actions(dict(
        action_schemas.VOLUME_ACTIONS, **{'os-extend': volume_schemas.extend,
                                          'os-force_delete': volume_schemas.no_argument_action})),
    ('/v3/snapshots', 'POST'): snapshot_schemas.create,
    ('/v3/snapshots/{snapshot_id}', 'PUT'): snapshot_schemas.update,
    ('/v3/snapshots/{snapshot_id}/metadata', 'POST'): snapshot_schemas.metadata_body,
    ('/v3/snapshots/{snapshot_id}/metadata', 'PUT'): snapshot_schemas.metadata_body,
    ('/v3/snapshots/{snapshot_id}/metadata/{key}', 'PUT'): snapshot_schemas.meta_item_body,
    ('/v3/snapshots/{snapshot_id}/action', 'POST'): _actions(dict(
        action_schemas.SNAPSHOT_ACTIONS,
        **{'os-force_delete': volume_schemas.no_argument_action})),
    ('/v3/types', 'POST'): type_schemas.create,
    ('/v3/types/{type_id}', 'PUT'): type_schemas.update,
    ('/v3/types/{type_id}/extra_specs', 'POST'): type_schemas.extra_specs_body,
    ('/v3/types/{type_id}/extra_specs/{key}', 'PUT'): type_schemas.extra_spec_item,
    ('/v3/types/{type_id}/action', 'POST'): _actions({
        'addProjectAccess': type_schemas.add_project_access,
        'removeProjectAccess': type_schemas.remove_project_access}),
    ('/v3/types/{type_id}/encryption', 'POST'): type_schemas.encryption_create,
    ('/v3/types/{type_id}/encryption/{spec}', 'PUT'): type_schemas.encryption_update,
    ('/v3/default-types/{project_id}', 'PUT'): type_schemas.default_type,
    ('/v3/qos-specs', 'POST'): qos_schemas.create,
    ('/v3/qos-specs/{qos_id}', 'PUT'): qos_schemas.update,
    ('/v3/qos-specs/{qos_id}/delete_keys', 'PUT'): qos_schemas.delete_keys,
    ('/v3/volume-transfers', 'POST'): transfer_schemas.create,
    ('/v3/volume-transfers/{transfer_id}/accept', 'POST'): transfer_schemas.accept,
    ('/v3/os-volume-transfer', 'POST'): transfer_schemas.create,
    ('/v3/os-volume-transfer/{transfer_id}/accept', 'POST'): transfer_schemas.accept,
    ('/v3/manageable_volumes', 'POST'): manage_schemas.manage_volume,
    ('/v3/os-volume-manage', 'POST'): manage_schemas.manage_volume,
    ('/v3/manageable_snapshots', 'POST'): manage_schemas.manage_snapshot,
    ('/v3/os-snapshot-manage', 'POST'): manage_schemas.manage_snapshot,
}


def _json_schema(versioned):
    return versioned.validator(microversion.MAX).schema


def _body_schema(declared):
    if isinstance(declared, tuple) and declared[0] == 'actions':
        return {'oneOf': [_json_schema(s) for _name, s in sorted(declared[1].items())]}
    return _json_schema(declared)


def _version_header(lo, hi):
    versions = [str(v) for v, _what in microversion.VERSIONS if lo <= v <= hi]
    return {
        'name': microversion.HEADER, 'in': 'header', 'required': False,
        'description': 'The microversion: "volume 3.N" (no header means %s).'
                       % (microversion.MIN,),
        'schema': {'type': 'string',
                   'enum': ['%s %s' % (microversion.SERVICE_TYPE, v) for v in versions]},
    }


# A create whose body takes a client_token takes the same key as a header
# (blockstore/common/idempotency.py).
_IDEMPOTENCY_HEADER = {
    'name': 'Idempotency-Key', 'in': 'header', 'required': False,
    'description': 'Not in Cinder: a repeat of this create with the same key answers '
                   'with the resource the first made (as client_token in the body).',
    'schema': {'type': 'string', 'minLength': 1, 'maxLength': 255},
}


def _takes_client_token(media):
    for resource in media['schema'].get('properties', {}).values():
        if 'client_token' in (resource.get('properties') or {}):
            return True
    return False


def _operation_id(path, method):
    words = re.sub(r'[{}]', '', path.strip('/')).replace('/', '_').replace('-', '_')
    return '%s_%s' % (method.lower(), words or 'root')


def _handlers(handlers):
    return handlers if isinstance(handlers, tuple) else (handlers,)


def generate(routes=None):
    """The OpenAPI document (a dict) of ``routes`` (default: the route table)."""
    if routes is None:
        from blockstore.api import routes as routes_mod
        routes = routes_mod.ROUTES
    paths = {}
    for path in sorted(routes):
        item = {}
        params = [{'name': name, 'in': 'path', 'required': True,
                   'schema': {'type': 'string'}}
                  for name in re.findall(r'{([^}]+)}', path)]
        if params:
            item['parameters'] = params
        for method in sorted(routes[path]):
            handlers = _handlers(routes[path][method])
            ranges = [microversion.handler_range(h) for h in handlers]
            lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
            first = handlers[0]
            op = {
                'operationId': _operation_id(path, method),
                'summary': ((first.__doc__ or '').strip().splitlines() or [''])[0],
                'x-openstack-microversion': {'min': str(lo), 'max': str(hi)},
                'parameters': [{'$ref': '#/components/parameters/Microversion'}
                               if (lo, hi) == (microversion.MIN, microversion.MAX)
                               else _version_header(lo, hi)],
                'responses': {
                    '2XX': {'description': 'Success.'},
                    'default': {'description': "An error, in Cinder's format.",
                                'content': {'application/json': {
                                    'schema': {'$ref': '#/components/schemas/Error'}}}},
                },
            }
            if path in ('/', '/v3', '/v3/openapi.json'):
                op['security'] = []
            declared = REQUEST_BODIES.get((path, method))
            if declared is None:
                declared = getattr(first, 'request_schema', None)
            if declared is not None:
                op['requestBody'] = {'required': True, 'content': {
                    'application/json': {'schema': _body_schema(declared)}}}
                if _takes_client_token(op['requestBody']['content']['application/json']):
                    op['parameters'].append(_IDEMPOTENCY_HEADER)
            item[method.lower()] = op
        paths[path] = item
    return {
        'openapi': '3.1.0',
        'info': {'title': TITLE, 'version': str(microversion.MAX),
                 'description': 'Microversions %s to %s; see blockstore/api/microversion.py.'
                                % (str(microversion.MIN), str(microversion.MAX))},
        'servers': [{'url': '/'}],
        'paths': paths,
        'components': {
            'schemas': {'Error': ERROR_SCHEMA},
            'parameters': {'Microversion': _version_header(microversion.MIN,
                                                           microversion.MAX)},
            'securitySchemes': {'token': {'type': 'apiKey', 'in': 'header',
                                          'name': 'X-Auth-Token'}},
        },
        'security': [{'token': []}],
    }


def dumps(document):
    return json.dumps(document, indent=1, sort_keys=True) + '\n'


_CACHE = {}


def serve(req):
    """GET /v3/openapi.json (no token needed)."""
    body = _CACHE.get('body')
    if body is None:
        body = _CACHE['body'] = generate()
    return common.json_response(body)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--output', '-o', help='file to write (default: stdout)')
    args = parser.parse_args(argv)
    text = dumps(generate())
    if args.output:
        with open(args.output, 'w') as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == '__main__':
    main()
