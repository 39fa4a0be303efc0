"""Extend of an attached volume and reclaim of a dead host, with real processes.

API, scheduler and volume service as separate processes on MariaDB or
PostgreSQL and RabbitMQ; the volume service runs a file driver whose export
calls go to a journal file (tests.fixtures.exporting_driver), and tells a
stand-in Nova (an HTTP server in this test) that the volume grew.
"""

import os
import uuid

import pytest

from tests.fixtures import database as dbfix
from tests.fixtures import deployment as depfix
from tests.fixtures.exporting_driver import read_journal
from tests.fixtures.fake_nova import FakeNova

GiB = 1024 ** 3
CONNECTOR = {'initiator': 'iqn.1994-05.com.redhat:k8s-node-7', 'host': 'k8s-node-7',
             'ip': '10.0.0.7', 'multipath': False}


@pytest.fixture(scope='module')
def nova():
    fake = FakeNova()
    yield fake
    fake.stop()


@pytest.fixture(params=['mysql', 'postgresql'], scope='module')
def deployment(request, tmp_path_factory, nova):
    if not depfix.port_open('127.0.0.1', 5672):
        msg = 'RabbitMQ is not listening on 127.0.0.1:5672 (start it: see .ci/run)'
        if dbfix.in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    db = dbfix.Database(request.param)
    dbfix.create_or_skip(db)
    try:
        db.sync()
        db.dispose()
        dep = depfix.Deployment(
            tmp_path_factory.mktemp('attach-ext-%s' % request.param), db_url=db.url,
            transport_url=depfix.RABBIT_URL,
            volume_driver='tests.fixtures.exporting_driver.JournalExportingFileDriver',
            extra_conf='''
                [nova]
                auth_type = admin_token
                endpoint = %s
                token = nova-service-token
                ''' % nova.url)
        dep.write_config()
        for name in ('scheduler', 'volume', 'api'):
            dep.start(name)
        try:
            dep.wait_for_api()
            yield dep
        finally:
            dep.stop_all()
    finally:
        db.drop()


def _attached_volume(dep, instance):
    vid = dep.request('POST', '/volumes', body={'volume': {'size': 1, 'name': 'att'}},
                      expect=202).json()['volume']['id']
    dep.wait_status('volume', vid, 'available')
    r = dep.request('POST', '/attachments', expect=200, body={'attachment': {
        'volume_uuid': vid, 'instance_uuid': instance, 'connector': CONNECTOR}})
    att = r.json()['attachment']
    assert att['connection_info']['target_iqn'].endswith(vid)
    dep.request('POST', '/attachments/%s/action' % att['id'], body={'os-complete': {}},
                expect=204)
    dep.wait_status('volume', vid, 'in-use')
    return vid, att['id']


def test_attached_volume_grows_and_nova_is_told(deployment, nova):
    dep = deployment
    instance = str(uuid.uuid4())
    vid, aid = _attached_volume(dep, instance)
    dep.request('POST', '/volumes/%s/action' % vid, version='3.41',
                body={'os-extend': {'new_size': 2}}, expect=400)
    dep.request('POST', '/volumes/%s/action' % vid, version='3.42',
                body={'os-extend': {'new_size': 2}}, expect=202)
    dep.wait_status('volume', vid, 'in-use')
    vol = dep.request('GET', '/volumes/%s' % vid, expect=200).json()['volume']
    assert vol['size'] == 2
    assert [a['attachment_id'] for a in vol['attachments']] == [aid]
    assert os.path.getsize(os.path.join(dep.volumes_dir('file1'), 'volume-%s' % vid)) == 2 * GiB
    sent = [(h, b) for _, h, b in nova.requests if b['events'][0]['tag'] == vid]
    assert len(sent) == 1, nova.requests
    headers, body = sent[0]
    assert body == {'events': [{'name': 'volume-extended', 'server_uuid': instance,
                                'tag': vid}]}
    assert headers['X-Auth-Token'] == 'nova-service-token'


def test_dead_host_is_reclaimed(deployment):
    dep = deployment
    vid, aid = _attached_volume(dep, str(uuid.uuid4()))
    dep.request('POST', '/attachments/reclaim', body={'host': 'k8s-node-7',
                                                      'confirm_dead': True}, expect=403)
    r = dep.request('POST', '/attachments/reclaim', user='admin', project='admin',
                    body={'host': 'k8s-node-7', 'confirm_dead': True}, expect=200)
    assert aid in [a['id'] for a in r.json()['reclaimed']]
    assert r.json()['failed'] == []
    dep.wait_status('volume', vid, 'available')
    journal = read_journal(dep.volumes_dir('file1'))
    assert ('terminate_connection', vid, CONNECTOR['initiator']) in journal
    assert ('remove_export', vid) in journal
    dep.request('GET', '/attachments/%s' % aid, expect=404)
