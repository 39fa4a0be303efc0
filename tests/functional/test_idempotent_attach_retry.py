"""A client whose POST /attachments got no answer (its API died) retries and gets the attachment.

Real processes on MariaDB/PostgreSQL and RabbitMQ (``tests.fixtures.attach``).
The first request reserves the attachment and calls the volume service to
connect it; the volume service is stopped (SIGSTOP) so the call hangs, and
the API process is SIGKILLed in the middle of it. Its idempotency key is
left pending. A retry with the same key on the restarted API must answer
with that attachment at once -- not wait and answer 409 until the key
expires, and not make a second attachment -- and the client can then
finish (connect, complete) and delete it.

(tests/functional/test_idempotency_owner.py proves the lock rule itself.)
"""

import os
import signal
import threading
import time
import uuid

import pytest
import requests

from tests.fixtures import attach as attfix


@pytest.fixture(params=['mysql', 'postgresql'], scope='module')
def dep(request, tmp_path_factory):
    with attfix.attach_deployment(request.param,
                                  tmp_path_factory.mktemp('idem-att-%s' % request.param)) as d:
        yield d


def _post_attachment(dep, vid, key, instance, timeout=30):
    headers = {'X-Auth-Token': 'demo:demo', 'X-Roles': 'member,reader',
               'OpenStack-API-Version': 'volume 3.71', 'Accept': 'application/json',
               'Idempotency-Key': key}
    body = {'attachment': {'volume_uuid': vid, 'instance_uuid': instance,
                           'connector': attfix.CONNECTOR}}
    return requests.post('%s/v3/demo/attachments' % dep.endpoint, json=body, headers=headers,
                         timeout=timeout)


def _wait(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_retry_after_the_api_died_mid_create_gets_the_same_attachment(dep):
    (vid,) = attfix.create_volumes(dep, ['idem-attach'])
    key, instance = 'attach-' + uuid.uuid4().hex, str(uuid.uuid4())
    volume_pid = dep.procs['volume'].pid
    os.kill(volume_pid, signal.SIGSTOP)    # the connect call will hang
    try:
        lost = []
        first = threading.Thread(target=lambda: lost.append(
            _try(lambda: _post_attachment(dep, vid, key, instance, timeout=60))), daemon=True)
        first.start()
        assert _wait(lambda: [a for a in dep.db.live_attachments(vid)
                              if a['attach_status'] == 'attaching']), \
            'the first request never reserved and claimed the connect'
        dep.kill('api', signal.SIGKILL)    # dies waiting for the volume service
        first.join(30)
        assert lost and not isinstance(lost[0], requests.Response), lost
        dep.start('api')
        dep.wait_for_api()
    finally:
        os.kill(volume_pid, signal.SIGCONT)
    (made,) = dep.db.live_attachments(vid)
    t0 = time.monotonic()
    retry = _post_attachment(dep, vid, key, instance)
    waited = time.monotonic() - t0
    assert retry.status_code == 200, retry.text
    assert retry.json()['attachment']['id'] == made['id']
    assert waited < 10, 'the retry waited %.1f s for a request that was dead' % waited
    assert [a['id'] for a in dep.db.live_attachments(vid)] == [made['id']]
    # The client finishes what it started: connect (if the lost call did not), complete, delete.
    aid = made['id']
    r = dep.request('PUT', '/attachments/%s' % aid,
                    body={'attachment': {'connector': attfix.CONNECTOR}}, expect=200)
    assert r.json()['attachment']['connection_info'], r.text
    dep.request('POST', '/attachments/%s/action' % aid, body={'os-complete': {}}, expect=204)
    dep.wait_status('volume', vid, 'in-use')
    dep.request('DELETE', '/attachments/%s' % aid, expect=200)
    dep.wait_status('volume', vid, 'available')
    assert dep.db.workers_of(aid) == []


def _try(fn):
    try:
        return fn()
    except requests.RequestException as e:
        return e


def test_create_sent_while_the_volume_service_restarts_is_connected(dep):
    """The connect call waits in the queue while the service is down; the restarted service
    must leave its claimed connect to that call (which then connects), not fail it."""
    (vid,) = attfix.create_volumes(dep, ['attach-during-restart'])
    dep.kill('volume', signal.SIGKILL)
    answer = []
    first = threading.Thread(target=lambda: answer.append(_try(lambda: _post_attachment(
        dep, vid, 'restart-' + uuid.uuid4().hex, str(uuid.uuid4()), timeout=120))),
        daemon=True)
    first.start()
    assert _wait(lambda: [a for a in dep.db.live_attachments(vid)
                          if a['attach_status'] == 'attaching'])
    dep.start('volume')
    first.join(120)
    (r,) = answer
    assert isinstance(r, requests.Response) and r.status_code == 200, getattr(r, 'text', r)
    att = r.json()['attachment']
    assert att['status'] == 'attaching' and att['connection_info']
    dep.request('POST', '/attachments/%s/action' % att['id'], body={'os-complete': {}},
                expect=204)
    dep.request('DELETE', '/attachments/%s' % att['id'], expect=200)
    dep.wait_status('volume', vid, 'available')
