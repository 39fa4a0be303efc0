"""The volume service killed (SIGKILL) in the middle of attach work, on MariaDB and PostgreSQL.

Real processes (API, scheduler, volume) and RabbitMQ; the volume service runs
tests.fixtures.slow_driver.ExportingFileDriver, whose exports are files and
so outlive the process. The API waits at most ``volume_connection_timeout``
(lowered to a few seconds here) for the volume service.

* Dead before connecting: PUT with a connector answers with a clear error
  within the timeout; after a restart the attachment is error_attaching and
  the volume is usable again without an administrator: a retried PUT
  connects, and deleting an attachment makes its volume available.
* Killed while terminating a connection: after a restart the work record
  is redone and the deletion completes by itself; the volume is available.

(An API process killed mid-request is not tested: the claim and its work
record are one transaction, so there is nothing an API leaves half done.)
"""

from concurrent.futures import ThreadPoolExecutor
import os
import time

import pytest

from blockstore.objects import states
from tests.fixtures import attach as attfix

RPC_TIMEOUT = 6


@pytest.fixture(params=['mysql', 'postgresql'], scope='module')
def dep(request, tmp_path_factory):
    conf = '[DEFAULT]\nvolume_connection_timeout = %d\n' % RPC_TIMEOUT
    with attfix.attach_deployment(request.param,
                                  tmp_path_factory.mktemp('fail-%s' % request.param),
                                  extra_conf=conf) as d:
        d.backend = request.param
        yield d


def _attachment(dep, aid):
    r = dep.request('GET', '/attachments/%s' % aid)
    return None if r.status_code == 404 else r.json()['attachment']


def _wait(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError('timed out waiting for %s' % what)


def _export(dep, vid):
    """The initiators the driver's export of ``vid`` lets in, or None (not exported)."""
    try:
        with open(os.path.join(dep.volumes_dir('file1'), '.export-%s' % vid)) as f:
            return f.read().split()
    except FileNotFoundError:
        return None


def _connector(n):
    return dict(attfix.CONNECTOR, initiator='iqn.1993-08.org.debian:01:host-%d' % n,
                host='host-%d' % n)


def test_volume_service_dead_between_reserve_and_connect(dep):
    retried, dropped = attfix.create_volumes(dep, ['connect-retry', 'connect-drop'])
    aids = {}
    for vid in (retried, dropped):
        body = {'attachment': {'volume_uuid': vid,
                               'instance_uuid': '00000000-0000-4000-8000-%012d' % len(aids)}}
        att = dep.request('POST', '/attachments', body=body, expect=200).json()['attachment']
        assert att['status'] == states.RESERVED
        aids[vid] = att['id']

    dep.kill('volume')   # SIGKILL: the service is gone between reserve and connect

    def put(vid):
        t0 = time.monotonic()
        r = dep.request('PUT', '/attachments/%s' % aids[vid], timeout=RPC_TIMEOUT * 10,
                        body={'attachment': {'connector': _connector(1)}})
        return r, time.monotonic() - t0

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(put, (retried, dropped)))
    for r, seconds in answers:
        print('\n[%s] PUT with the volume service dead: %d in %.1f s: %s'
              % (dep.backend, r.status_code, seconds, r.text[:200]))
        assert r.status_code == 503, r.text     # the same PUT again is safe
        assert int(r.headers['Retry-After']) > 0
        assert 'did not answer in time' in r.text
        assert seconds < RPC_TIMEOUT + 5
    for vid in (retried, dropped):
        # Connecting was claimed, with a work record for whoever finishes it.
        assert dep.db.live_attachments(vid)[0]['attach_status'] == states.ATTACHING
        assert [w['operation'] for w in dep.db.workers_of(aids[vid])] == ['connect']

    dep.start('volume')
    for vid in (retried, dropped):
        att = _wait(lambda: (_attachment(dep, aids[vid]) or {}).get('status') in (
            states.ERROR_ATTACHING, states.RESERVED) and _attachment(dep, aids[vid]),
            60, 'attachment %s to fail after the restart' % aids[vid])
        print('[%s] after the restart: attachment %s, volume %s' % (
            dep.backend, att['status'], dep.db.volume(vid)['status']))
        assert dep.db.workers_of(aids[vid]) == []

    # Retried, the PUT connects: the export lets the host in.
    r = dep.request('PUT', '/attachments/%s' % aids[retried], expect=200,
                    body={'attachment': {'connector': _connector(1)}})
    info = r.json()['attachment']['connection_info']
    assert info['target_iqn'].endswith(retried) and info['attachment_id'] == aids[retried]
    assert _export(dep, retried) == [_connector(1)['initiator']]
    dep.request('POST', '/attachments/%s/action' % aids[retried], expect=204,
                body={'os-complete': {}})
    assert dep.db.volume(retried)['status'] == states.IN_USE
    dep.request('DELETE', '/attachments/%s' % aids[retried], expect=200)
    assert _export(dep, retried) is None

    # Deleting the failed attachment makes its volume available.
    dep.request('DELETE', '/attachments/%s' % aids[dropped], expect=200)
    for vid in (retried, dropped):
        assert dep.db.live_attachments(vid) == []
        assert dep.db.volume(vid)['status'] == states.AVAILABLE
        dep.request('DELETE', '/volumes/%s' % vid, expect=202)


def test_volume_service_killed_while_terminating(dep):
    vid, = attfix.create_volumes(dep, ['stall-terminate-1'])
    body = {'attachment': {'volume_uuid': vid, 'connector': _connector(2),
                           'instance_uuid': '00000000-0000-4000-8000-00000000abcd'}}
    att = dep.request('POST', '/attachments', body=body, expect=200).json()['attachment']
    dep.request('POST', '/attachments/%s/action' % att['id'], expect=204,
                body={'os-complete': {}})
    assert dep.db.volume(vid)['status'] == states.IN_USE
    assert _export(dep, vid) == [_connector(2)['initiator']]

    marker = os.path.join(dep.volumes_dir('file1'), '.stalled-terminate-%s' % vid)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(dep.request, 'DELETE', '/attachments/%s' % att['id'],
                              timeout=RPC_TIMEOUT * 10)
        _wait(lambda: os.path.exists(marker), 30, 'terminate_connection to stall')
        assert dep.db.live_attachments(vid)[0]['attach_status'] == states.DETACHING
        dep.kill('volume')   # SIGKILL while terminate_connection runs
        t0 = time.monotonic()
        dep.start('volume')
        # The restarted service redoes the detach from its work record, unasked.
        _wait(lambda: _attachment(dep, att['id']) is None, 60, 'the attachment to go')
        redone = time.monotonic() - t0
        deleted = pending.result()
    print('\n[%s] DELETE while the volume service was killed: %d: %s'
          % (dep.backend, deleted.status_code, deleted.text[:200]))
    print('[%s] detach redone %.1f s after the restart' % (dep.backend, redone))
    # The call died with the service (200 if it was delivered again): a 503 to retry.
    assert deleted.status_code in (200, 503), deleted.text
    if deleted.status_code == 503:
        assert int(deleted.headers['Retry-After']) > 0
        # The retry finds the detach done by the restarted service.
        dep.request('DELETE', '/attachments/%s' % att['id'], expect=404)
    dep.wait_status('volume', vid, states.AVAILABLE, timeout=30)
    assert dep.db.live_attachments(vid) == []
    assert dep.db.workers_of(att['id']) == []
    assert _export(dep, vid) is None
    assert dep.db.volume(vid)['attach_status'] == states.DETACHED
    dep.request('DELETE', '/volumes/%s' % vid, expect=202)
    dep.wait_status('volume', vid, 'gone', timeout=60)
