"""The OpenAPI document: generated from the route table, committed, served without a token."""

import difflib
import json
import os

import pytest
import webob

from blockstore.api import app as api_app
from blockstore.api import microversion
from blockstore.api import openapi
from blockstore.api import routes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMITTED = os.path.join(ROOT, 'etc', 'blockstore', 'openapi.json')


def test_committed_document_is_current():
    with open(COMMITTED) as f:
        committed = f.read().splitlines(keepends=True)
    generated = openapi.dumps(openapi.generate()).splitlines(keepends=True)
    if committed != generated:
        diff = ''.join(difflib.unified_diff(committed, generated,
                                            'etc/blockstore/openapi.json (committed)',
                                            'generated now', n=2))
        raise AssertionError(
            'etc/blockstore/openapi.json is out of date: run `tox -e genopenapi` (or '
            '`.venv/bin/python -m blockstore.api.openapi -o etc/blockstore/openapi.json`) '
            'and commit the result.\n' + diff[:6000])


def test_every_route_and_method_is_documented():
    doc = openapi.generate()
    assert doc['openapi'].startswith('3.1')
    assert set(doc['paths']) == set(routes.ROUTES)
    for path, methods in routes.ROUTES.items():
        documented = {m for m in doc['paths'][path] if m != 'parameters'}
        assert documented == {m.lower() for m in methods}, path
    ops = [op for item in doc['paths'].values() for k, op in item.items() if k != 'parameters']
    assert len({op['operationId'] for op in ops}) == len(ops)
    for op in ops:
        assert op['responses']['default']['content']['application/json']['schema'] == {
            '$ref': '#/components/schemas/Error'}


def test_bodies_versions_and_parameters():
    doc = openapi.generate()
    create = doc['paths']['/v3/volumes']['post']
    body = create['requestBody']['content']['application/json']['schema']
    assert body['required'] == ['volume'] and body['additionalProperties'] is False
    action = doc['paths']['/v3/volumes/{volume_id}/action']['post']
    names = {next(iter(s['properties'])) for s in
             action['requestBody']['content']['application/json']['schema']['oneOf']
             if 'properties' in s}
    assert {'os-extend', 'revert', 'os-retype', 'os-reset_status'} <= names
    transfers = doc['paths']['/v3/volume-transfers']['get']
    assert transfers['x-openstack-microversion'] == {'min': '3.55', 'max': str(microversion.MAX)}
    header = transfers['parameters'][0]
    assert header['name'] == 'OpenStack-API-Version'
    assert header['schema']['enum'][0] == 'volume 3.55'
    assert doc['paths']['/v3/volumes/{volume_id}']['parameters'] == [
        {'name': 'volume_id', 'in': 'path', 'required': True, 'schema': {'type': 'string'}}]


@pytest.mark.usefixtures('database')
def test_served_without_a_token():
    app = api_app.make_app()
    for path in ('/v3/openapi.json',):
        resp = webob.Request.blank(path).get_response(app)
        assert resp.status_int == 200, resp.body
        assert json.loads(resp.body)['paths'].keys() == set(routes.ROUTES)
