"""Extending attached volumes (3.42), its completion by compute (3.71), reimage (3.68).

The whole API stack with the volume manager in this process (as
test_attachments) and a small HTTP server standing in for Nova's
external-events API: every assertion is on what the API answers, what the
database and the driver hold, and what Nova received.
"""

import os
import uuid

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore.db import messages as db_messages
from blockstore.volume.drivers import base as driver_base
from tests.fixtures.fake_nova import FakeNova
from tests.unit.api.conftest import Client, fault_of
from blockstore import objects
from tests.unit.api import test_attachments
from tests.unit.api.test_attachments import CONN_A, CONN_B, DirectRPC, _attach, _vol
from tests.unit.test_volume_manager_connections import ExportingFileDriver, mgr  # noqa: F401

CONF = cfg.CONF
V = '3.71'


def _override(**values):
    for key, value in values.items():
        CONF.set_override(key, value, group='nova')


@pytest.fixture
def nova_api():
    fake = FakeNova()
    yield fake
    fake.stop()
    for key in ('auth_type', 'endpoint', 'token', 'endpoint_override', 'auth_url',
                'username', 'password', 'project_name', 'user_domain_name',
                'project_domain_name', 'interface', 'region_name'):
        try:
            CONF.clear_override(key, group='nova')
        except cfg.NoSuchOptError:
            pass


@pytest.fixture
def nova_conf(nova_api):
    """[nova] auth_type = admin_token (a fixed service token and endpoint)."""
    CONF.register_opts(ks_loading.get_auth_plugin_conf_options('admin_token'), group='nova')
    _override(auth_type='admin_token', endpoint=nova_api.url, token='nova-secret')
    return nova_api


class ExtendRPC(DirectRPC):
    def extend_volume(self, ctx, volume, new_size, attached=False):
        return self.m.extend_volume(ctx, volume, new_size)

    def require_attached_extend(self):
        pass


@pytest.fixture
def stack(mgr, ctx):  # noqa: F811
    mgr.init_host(ctx)
    return mgr


@pytest.fixture
def volume_rpcapi(stack):
    return ExtendRPC(stack)


@pytest.fixture
def c(app, project):
    return Client(app, 'user1:%s' % project, version=V)


@pytest.fixture
def admin(app):
    return Client(app, 'admin:admin', version=V)


def _volume(c, stack, multiattach=False):
    """An available volume of ``stack``'s backend, its file created by the driver."""
    vid = test_attachments._volume(c, stack, multiattach)
    stack.driver.create_volume(objects.Volume.get_by_id(context.get_admin_context(), vid))
    return vid


def _extend(client, vid, size, version=V):
    return client.post('/v3/volumes/%s/action' % vid, {'os-extend': {'new_size': size}},
                       version=version)


def _file_size(stack, vid):
    return os.path.getsize(os.path.join(stack.driver.configuration.file_volumes_dir,
                                        'volume-%s' % vid))


def _workers(vid):
    return db.worker_get_all(context.get_admin_context(), resource_id=vid)


def _messages(project):
    return db_messages.message_get_all(context.get_admin_context(), project_id=project)


# -- 3.42: extend while attached ------------------------------------------------------

def test_extend_in_use_needs_342(c, stack, nova_conf):
    vid = _volume(c, stack)
    _attach(c, vid, CONN_A)
    resp = _extend(c, vid, 2, version='3.41')
    assert resp.status_int == 400
    assert 'status must be available, but is in-use' in fault_of(resp)[2]
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('in-use', 1)
    assert nova_conf.requests == []


def test_extend_attached_volume_grows_and_tells_nova(c, stack, nova_conf, project):
    vid = _volume(c, stack)
    instance = str(uuid.uuid4())
    resp = c.post('/v3/attachments', {'attachment': {'volume_uuid': vid,
                                                     'instance_uuid': instance}})
    aid = resp.json['attachment']['id']
    c.put('/v3/attachments/%s' % aid, {'attachment': {'connector': CONN_A}})
    assert c.post('/v3/attachments/%s/action' % aid, {'os-complete': {}}).status_int == 204

    resp = _extend(c, vid, 3, version='3.42')
    assert resp.status_int == 202, resp.body
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('in-use', 3)
    assert [a['attachment_id'] for a in vol['attachments']] == [aid]
    assert _file_size(stack, vid) == 3 * 1024 ** 3
    assert _workers(vid) == []

    (path, headers, body), = nova_conf.requests
    assert path == '/v2.1/os-server-external-events'
    assert body == {'events': [{'name': 'volume-extended', 'server_uuid': instance,
                                'tag': vid}]}
    assert headers['X-Auth-Token'] == 'nova-secret'
    assert headers['OpenStack-API-Version'] == 'compute 2.51'
    assert _messages(project) == []
    # Still attached: detaching it works as before and leaves it available at 3 GiB.
    assert c.delete('/v3/attachments/%s' % aid).status_int == 200
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('available', 3)


def test_multiattach_volume_tells_every_instance(c, stack, nova_conf):
    vid = _volume(c, stack, multiattach=True)
    i1, i2 = str(uuid.uuid4()), str(uuid.uuid4())
    _attach(c, vid, CONN_A, instance=i1)
    _attach(c, vid, CONN_B, instance=i2)
    assert _extend(c, vid, 2).status_int == 202
    assert _vol(c, vid)['status'] == 'in-use'
    (events,) = nova_conf.events()
    assert sorted(e['server_uuid'] for e in events) == sorted([i1, i2])
    assert {e['tag'] for e in events} == {vid}


def test_extend_of_available_volume_tells_nobody(c, stack, nova_conf):
    vid = _volume(c, stack)
    assert _extend(c, vid, 2).status_int == 202
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('available', 2)
    assert nova_conf.requests == []


def test_refused_notification_does_not_fail_the_extend(c, stack, nova_conf, project):
    nova_conf.status = 404
    vid = _volume(c, stack)
    _attach(c, vid, CONN_A)
    assert _extend(c, vid, 2).status_int == 202
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('in-use', 2)
    assert len(nova_conf.requests) == 1
    (msg,) = _messages(project)
    assert msg.resource_uuid == vid and 'compute service could not be told' in msg.detail


def test_unreachable_nova_does_not_fail_the_extend(c, stack, nova_conf, project):
    nova_conf.stop()
    vid = _volume(c, stack)
    _attach(c, vid, CONN_A)
    assert _extend(c, vid, 2).status_int == 202
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('in-use', 2)
    assert len(_messages(project)) == 1


def test_without_nova_configuration_it_logs(c, stack, nova_api, caplog):
    vid = _volume(c, stack)
    _attach(c, vid, CONN_A)
    assert _extend(c, vid, 2).status_int == 202
    assert _vol(c, vid)['size'] == 2
    assert 'No compute endpoint is configured' in caplog.text
    assert nova_api.requests == []


def test_endpoint_without_auth_passes_the_request_token(c, stack, nova_api):
    _override(endpoint_override=nova_api.url)
    vid = _volume(c, stack)
    _attach(c, vid, CONN_A)
    assert _extend(c, vid, 2).status_int == 202
    (_, headers, _), = nova_api.requests
    assert headers['X-Auth-Token'] == c.token


def test_endpoint_from_the_keystone_catalog(c, stack, nova_api):
    """[nova] password auth: a service token from Keystone, compute's endpoint from its
    catalog (interface internal, region R2)."""
    CONF.register_opts(ks_loading.get_auth_plugin_conf_options('v3password'), group='nova')
    _override(auth_type='v3password', auth_url=nova_api.auth_url, username='blockstore',
              password='s3cret', project_name='service', user_domain_name='Default',
              project_domain_name='Default', interface='internal', region_name='R2')
    vid = _volume(c, stack)
    instance = str(uuid.uuid4())
    _attach(c, vid, CONN_A, instance=instance)
    assert _extend(c, vid, 2).status_int == 202
    (auth,) = nova_api.token_requests
    assert auth['auth']['identity']['password']['user']['name'] == 'blockstore'
    (path, headers, body), = nova_api.requests
    assert path == '/v2.1/os-server-external-events'
    assert headers['X-Auth-Token'] == nova_api.KEYSTONE_TOKEN
    assert body['events'] == [{'name': 'volume-extended', 'server_uuid': instance,
                               'tag': vid}]


def test_backend_failure_of_attached_extend(c, stack, nova_conf, project, monkeypatch):
    def broken(volume, new_size):
        raise RuntimeError('no space left in the pool')
    monkeypatch.setattr(stack.driver, 'extend_volume', broken)
    vid = _volume(c, stack)
    _attach(c, vid, CONN_A)
    assert _extend(c, vid, 2).status_int == 202
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('error_extending', 1)
    assert nova_conf.requests == []
    assert _workers(vid) == []
    assert 'no space left' in _messages(project)[0].detail


def test_quota_refusal_returns_an_attached_volume_to_in_use(c, stack, nova_conf, admin,
                                                             project):
    vid = _volume(c, stack)
    _attach(c, vid, CONN_A)
    resp = admin.put('/v3/os-quota-sets/%s' % project, {'quota_set': {'gigabytes': 1}})
    assert resp.status_int == 200, resp.body
    assert _extend(c, vid, 5).status_int == 413
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('in-use', 1)
    assert _workers(vid) == []


# -- 3.71: compute completes the extend (ComputeExtendOps backends) ----------------------

class ComputeExtendingDriver(ExportingFileDriver, driver_base.ComputeExtendOps):
    """A backend whose attached volumes the hypervisor grows (as NFS files under QEMU)."""

    def prepare_attached_extend(self, volume, new_size):
        self.calls.append(('prepare_attached_extend', volume.id, new_size))


@pytest.fixture
def compute_stack(stack):
    stack.driver = ComputeExtendingDriver(stack.driver.configuration, stack.host)
    return stack


def _awaiting(c, stack, nova):
    vid = _volume(c, stack)
    instance = str(uuid.uuid4())
    _attach(c, vid, CONN_A, instance=instance)
    assert _extend(c, vid, 4).status_int == 202
    return vid, instance


def _gigabytes_in_use(admin, project):
    resp = admin.get('/v3/os-quota-sets/%s?usage=true' % project)
    return resp.json['quota_set']['gigabytes']['in_use']


def test_extend_waits_for_compute_then_completes(c, admin, compute_stack, nova_conf,
                                                 project):
    vid, instance = _awaiting(c, compute_stack, nova_conf)
    assert _gigabytes_in_use(admin, project) == 4     # the awaited size is counted
    assert ('prepare_attached_extend', vid, 4) in compute_stack.driver.calls
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('extending', 1)
    assert vol['metadata']['extend_new_size'] == '4'
    assert nova_conf.events() == [[{'name': 'volume-extended', 'server_uuid': instance,
                                    'tag': vid}]]
    (w,) = _workers(vid)
    assert w.operation == 'extend_completion'

    path = '/v3/volumes/%s/action' % vid
    body = {'os-extend_volume_completion': {'error': False}}
    assert c.post(path, body).status_int == 403          # compute (admin) only
    assert admin.post(path, body, version='3.70').status_int == 404
    resp = admin.post(path, body)
    assert resp.status_int == 202, resp.body
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('in-use', 4)
    assert 'extend_new_size' not in vol['metadata']
    assert _workers(vid) == []
    assert _gigabytes_in_use(admin, project) == 4
    resp = admin.post(path, body)
    assert resp.status_int == 400
    assert 'not awaiting' in fault_of(resp)[2]


def test_compute_reports_failure(c, admin, compute_stack, nova_conf, project):
    vid, _ = _awaiting(c, compute_stack, nova_conf)
    resp = admin.post('/v3/volumes/%s/action' % vid,
                      {'os-extend_volume_completion': {'error': True}})
    assert resp.status_int == 202
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('error_extending', 1)
    assert 'extend_new_size' not in vol['metadata']
    assert _workers(vid) == []
    assert _gigabytes_in_use(admin, project) == 1


def test_reset_status_forgets_an_awaited_extend(c, admin, compute_stack, nova_conf,
                                                project):
    """Compute never answered: the admin resets the volume; the awaited size goes."""
    vid, _ = _awaiting(c, compute_stack, nova_conf)
    resp = admin.post('/v3/volumes/%s/action' % vid,
                      {'os-reset_status': {'status': 'in-use'}})
    assert resp.status_int == 202, resp.body
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('in-use', 1)
    assert 'extend_new_size' not in vol['metadata']
    assert _workers(vid) == []
    assert _gigabytes_in_use(admin, project) == 1
    resp = admin.post('/v3/volumes/%s/action' % vid,
                      {'os-extend_volume_completion': {'error': False}})
    assert resp.status_int == 400


def test_awaited_extend_fails_when_compute_cannot_be_told(c, compute_stack, nova_conf,
                                                          project):
    nova_conf.status = 403
    vid, _ = _awaiting(c, compute_stack, nova_conf)
    vol = _vol(c, vid)
    assert (vol['status'], vol['size']) == ('error_extending', 1)
    assert 'extend_new_size' not in vol['metadata']
    assert _workers(vid) == []
    assert len(_messages(project)) == 1


def test_compute_extend_of_a_multiattached_volume_fails(c, compute_stack, nova_conf):
    vid = _volume(c, compute_stack, multiattach=True)
    _attach(c, vid, CONN_A)
    _attach(c, vid, CONN_B)
    assert _extend(c, vid, 2).status_int == 202
    assert _vol(c, vid)['status'] == 'error_extending'
    assert nova_conf.requests == []


def test_completion_is_refused_when_no_extend_awaits(c, admin, stack, nova_conf):
    vid = _volume(c, stack)
    _attach(c, vid, CONN_A)
    path = '/v3/volumes/%s/action' % vid
    resp = admin.post(path, {'os-extend_volume_completion': {'error': False}})
    assert resp.status_int == 400
    assert 'not awaiting the completion of an extend' in fault_of(resp)[2]
    assert admin.post(path, {'os-extend_volume_completion': {}}).status_int == 400
    assert admin.post(path, {'os-extend_volume_completion': {'error': 'maybe'}}
                      ).status_int == 400
    # An LVM-like backend finished the extend itself: nothing awaits either.
    assert _extend(c, vid, 2).status_int == 202
    assert admin.post(path, {'os-extend_volume_completion': {'error': False}}
                      ).status_int == 400
    assert _vol(c, vid)['status'] == 'in-use'


# -- 3.68: reimage ----------------------------------------------------------------------

def test_reimage_is_validated_then_refused_for_want_of_an_image_service(c, stack):
    vid = _volume(c, stack)
    path = '/v3/volumes/%s/action' % vid
    image = str(uuid.uuid4())
    assert c.post(path, {'os-reimage': {'image_id': image}}, version='3.67').status_int == 404
    assert c.post(path, {'os-reimage': {}}).status_int == 400
    assert c.post(path, {'os-reimage': {'image_id': 'not-a-uuid'}}).status_int == 400
    resp = c.post(path, {'os-reimage': {'image_id': image}})
    assert resp.status_int == 501   # as os-volume_upload_image: a missing service
    assert 'no image service' in fault_of(resp)[2]

    c.post('/v3/attachments', {'attachment': {'volume_uuid': vid,
                                              'instance_uuid': str(uuid.uuid4())}})
    assert _vol(c, vid)['status'] == 'reserved'
    resp = c.post(path, {'os-reimage': {'image_id': image}})
    assert resp.status_int == 400
    assert 'must be available or error to reimage, but is reserved' in fault_of(resp)[2]
    resp = c.post(path, {'os-reimage': {'image_id': image, 'reimage_reserved': True}})
    assert resp.status_int == 501
    assert 'no image service' in fault_of(resp)[2]
    assert _vol(c, vid)['status'] == 'reserved'
