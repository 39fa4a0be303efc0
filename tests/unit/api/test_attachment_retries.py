"""Deleting an attachment that is already gone, or that another request finishes first.

A crash makes clients retry and volume services redo: the volume service
finishes an interrupted detach when it restarts, and the API's own call may
reach it afterwards; a client whose DELETE got no answer sends it again while
the first is still running, or after it completed. None of these is a 500:
a delete of what is gone is a 404 in Cinder's format, and a delete whose
claim won but whose work someone else finished is a success.

RPC calls reach an in-process volume manager through ``WireRPC``, which turns
the manager's exceptions into ``oslo_messaging.RemoteError`` exactly as a
call over the broker does (no blockstore module is an allowed remote module).
"""

import oslo_messaging as messaging
import pytest

from blockstore import objects
from blockstore.db import api as db
from tests.unit.api.conftest import fault_of
from tests.unit import test_volume_manager_connections as manager_tests
from tests.unit.api import test_attachments as attachment_tests
from tests.unit.api.test_attachments import CONN_A, DirectRPC, _attach, _vol, _volume

# The attachment tests' fixtures: an in-process volume manager behind the API.
mgr = manager_tests.mgr
stack = attachment_tests.stack
c = attachment_tests.c


class WireRPC(DirectRPC):
    """DirectRPC, with remote failures raised as the RPC client raises them.

    ``before_delete``: run before the manager handles an attachment_delete
    call (what reached the volume service first).
    """

    before_delete = None

    def attachment_delete(self, ctx, volume, attachment_id):
        hook, self.before_delete = self.before_delete, None
        if hook is not None:
            hook()
        try:
            return self.m.attachment_delete(ctx, volume, attachment_id)
        except Exception as e:
            raise messaging.RemoteError(type(e).__name__, str(e), '') from None


@pytest.fixture
def volume_rpcapi(stack):
    return WireRPC(stack)


def _detached(c, vid, aid):
    assert c.get('/v3/attachments/%s' % aid).status_int == 404
    vol = _vol(c, vid)
    assert (vol['status'], vol['attachments']) == ('available', [])


def test_delete_after_the_service_redid_the_detach_at_restart(c, stack, volume_rpcapi,
                                                              ctx):
    """The API's call arrives after the restarted service finished the detach itself."""
    vid = _volume(c, stack)
    aid = _attach(c, vid, CONN_A)
    worker = stack.attachments

    def restart_redo():
        (w,) = [w for w in db.worker_get_all(ctx, resource_id=aid)]
        assert w.operation == 'detach'
        worker.redo_attachment(ctx, w, objects.Volume.get_by_id(ctx, vid), aid)
    volume_rpcapi.before_delete = restart_redo
    resp = c.delete('/v3/attachments/%s' % aid)
    assert resp.status_int == 200, resp.body
    assert resp.json == {'attachments': []}
    _detached(c, vid, aid)
    assert db.worker_get_all(ctx, resource_id=aid) == []
    # The backend revoked the host once, not twice.
    assert [x for x in stack.driver.calls if x[0] == 'terminate_connection'] == [
        ('terminate_connection', vid, CONN_A, [])]


def test_retried_delete_while_the_first_runs(c, stack, volume_rpcapi, ctx):
    """A retry claims the detaching attachment again and finishes first; both succeed."""
    vid = _volume(c, stack)
    aid = _attach(c, vid, CONN_A)
    retried = []

    def retry_arrives():
        retried.append(c.delete('/v3/attachments/%s' % aid))
    volume_rpcapi.before_delete = retry_arrives
    first = c.delete('/v3/attachments/%s' % aid)
    assert retried[0].status_int == 200, retried[0].body
    assert first.status_int == 200, first.body
    _detached(c, vid, aid)
    assert db.worker_get_all(ctx, resource_id=aid) == []


def test_retried_delete_after_the_first_completed_is_a_404(c, stack):
    vid = _volume(c, stack)
    aid = _attach(c, vid, CONN_A)
    assert c.delete('/v3/attachments/%s' % aid).status_int == 200
    resp = c.delete('/v3/attachments/%s' % aid)
    assert resp.status_int == 404, resp.body
    key, code, message = fault_of(resp)
    assert (key, code) == ('itemNotFound', 404)
    assert aid in message
    _detached(c, vid, aid)


def test_unconnected_attachment_deleted_between_read_and_claim_is_a_404(c, stack, ctx):
    """The service layer's claim finds the attachment gone: 404, not a 400 or 500."""
    from blockstore.db import attachments as db_att
    from blockstore.volume import api as volume_api
    from blockstore.volume.attach import service as attach_flow
    vid = _volume(c, stack)
    resp = c.post('/v3/attachments', {'attachment': {'volume_uuid': vid}})
    aid = resp.json['attachment']['id']
    stale = db_att.attachment_get(ctx, aid)
    attach_flow.change(ctx, vid, aid, 'detach')
    attach_flow.finish_detach(ctx, vid, aid)
    api = volume_api.API(volume_rpcapi=WireRPC(stack), scheduler_rpcapi=None)
    with pytest.raises(db_att.AttachmentNotFound):
        api.attachments.attachment_delete(ctx, stale)
    assert _vol(c, vid)['status'] == 'available'


def test_delete_through_an_older_service_that_reports_not_found(c, stack, volume_rpcapi,
                                                                ctx, monkeypatch):
    """A volume service without the idempotent delete answers AttachmentNotFound: done."""
    vid = _volume(c, stack)
    aid = _attach(c, vid, CONN_A)
    worker = stack.attachments
    real = worker.attachment_delete

    def old_service(context, volume, attachment_id):
        real(context, volume, attachment_id)   # the redo finished it ...
        from blockstore.db import attachments as db_att
        raise db_att.AttachmentNotFound(attachment_id=attachment_id)   # ... the call fails
    monkeypatch.setattr(worker, 'attachment_delete', old_service)
    resp = c.delete('/v3/attachments/%s' % aid)
    assert resp.status_int == 200, resp.body
    _detached(c, vid, aid)


# -- a create with a connector whose connect fails: nothing is left reserved -------------

class LostReplyRPC(WireRPC):
    """The volume service connects, but its reply never reaches the API (broker restart)."""

    def attachment_update(self, ctx, volume, attachment_id, connector):
        self.m.attachment_update(ctx, volume, attachment_id, connector)
        raise messaging.MessagingTimeout('reply lost')


class RefusingRPC(WireRPC):
    """The volume service refuses the connect (e.g. its restart failed the claim)."""

    def attachment_update(self, ctx, volume, attachment_id, connector):
        raise messaging.RemoteError('InvalidVolume', 'attachment %s is error_attaching, not '
                                    'attaching' % attachment_id, '')


def _api(rpc):
    from blockstore.volume import api as volume_api
    return volume_api.API(volume_rpcapi=rpc, scheduler_rpcapi=None)


@pytest.mark.parametrize('rpc_class', [LostReplyRPC, RefusingRPC])
def test_create_whose_connect_fails_leaves_no_reservation(c, stack, ctx, rpc_class):
    from blockstore.common import exception
    from blockstore.db import attachments as db_att
    vid = _volume(c, stack)
    api = _api(rpc_class(stack))
    volume = api.get(ctx, vid)
    with pytest.raises(exception.BlockstoreException) as e:
        api.attachments.attachment_create(ctx, volume, instance_uuid=None, connector=CONN_A)
    if rpc_class is LostReplyRPC:
        assert e.value.code == 503 and int(e.value.headers['Retry-After']) > 0
        # What the lost connect granted was revoked again.
        assert ('terminate_connection', vid, CONN_A, []) in stack.driver.calls
        assert stack.driver.exports == {}
    else:
        assert e.value.code == 400
    assert db_att.live_attachments(ctx, vid) == []
    assert _vol(c, vid)['status'] == 'available'
    # The client may simply try again.
    att = _api(WireRPC(stack)).attachments.attachment_create(ctx, api.get(ctx, vid),
                                                              connector=CONN_A)
    assert att.connection_info


def test_create_whose_volume_service_is_gone_leaves_the_detach_to_it(c, stack, ctx):
    """No answer to the connect nor to its rollback: detaching, with the record it redoes."""
    from blockstore.common import exception
    from blockstore.db import attachments as db_att

    class Silent(WireRPC):
        def attachment_update(self, *args):
            raise messaging.MessagingTimeout('no reply')

        def attachment_delete(self, *args):
            raise messaging.MessagingTimeout('no reply')
    vid = _volume(c, stack)
    api = _api(Silent(stack))
    with pytest.raises(exception.BlockstoreException) as e:
        api.attachments.attachment_create(ctx, api.get(ctx, vid), connector=CONN_A)
    assert e.value.code == 503
    (att,) = db_att.live_attachments(ctx, vid)
    assert att.attach_status == 'detaching'
    assert [w.operation for w in db.worker_get_all(ctx, resource_id=att.id)] == ['detach']
    # The volume service comes back and finishes it.
    (w,) = db.worker_get_all(ctx, resource_id=att.id)
    stack.attachments.redo_attachment(ctx, w, objects.Volume.get_by_id(ctx, vid), att.id)
    assert db_att.live_attachments(ctx, vid) == []
    assert _vol(c, vid)['status'] == 'available'


# -- a volume service restarting with a connect in flight ---------------------------------

def _claimed_connect(c, stack, ctx):
    from blockstore.volume.attach import service as attach_flow
    vid = _volume(c, stack)
    resp = c.post('/v3/attachments', {'attachment': {'volume_uuid': vid}})
    aid = resp.json['attachment']['id']
    # The API claimed the connect (its work record) and sent the call; the service died.
    attach_flow.change(ctx, vid, aid, 'connect', {'connector': db_att_encode(CONN_A)},
                       work={'operation': 'connect'})
    return vid, aid


def db_att_encode(connector):
    from blockstore.db import attachments as db_att
    return db_att.encode({'connector': connector})['connector']


def test_restart_leaves_a_queued_connect_to_its_call(c, stack, ctx):
    """The call sent while the service was down arrives after the restart: it connects."""
    import threading
    vid, aid = _claimed_connect(c, stack, ctx)
    volume = objects.Volume.get_by_id(ctx, vid)
    redo = threading.Thread(target=stack.attachments._end_interrupted_connect,
                            args=(ctx, volume, aid, 0.5))
    redo.start()
    info = stack.attachment_update(ctx, objects.Volume.get_by_id(ctx, vid), aid, CONN_A)
    redo.join(10)
    assert info['attachment_id'] == aid
    att = c.get('/v3/attachments/%s' % aid).json['attachment']
    assert att['status'] == 'attaching' and att['connection_info']
    assert db.worker_get_all(ctx, resource_id=aid) == []


def test_restart_fails_a_connect_no_call_finishes(c, stack, ctx):
    vid, aid = _claimed_connect(c, stack, ctx)
    stack.attachments._end_interrupted_connect(ctx, objects.Volume.get_by_id(ctx, vid), aid,
                                               grace=0)
    assert c.get('/v3/attachments/%s' % aid).json['attachment']['status'] == 'error_attaching'
    assert db.worker_get_all(ctx, resource_id=aid) == []
    assert c.delete('/v3/attachments/%s' % aid).status_int == 200
    assert _vol(c, vid)['status'] == 'available'


# -- a keyed create whose first request died: the repeat finishes it ---------------------

class _Died(BaseException):
    """The API process is killed here: nothing after this point runs."""


class DyingRPC(WireRPC):
    def attachment_update(self, ctx, volume, attachment_id, connector):
        raise _Died()


def test_repeat_of_a_keyed_create_whose_first_request_died_connects_it(c, stack, ctx):
    from blockstore.common import idempotency
    from blockstore.db import attachments as db_att
    from blockstore.db import idempotency as db_idem
    vid = _volume(c, stack)
    request = idempotency.Request('key-%s' % vid, 'fingerprint')
    with pytest.raises(_Died):
        _api(DyingRPC(stack)).attachments.attachment_create(
            ctx, _api(WireRPC(stack)).get(ctx, vid), connector=CONN_A, idempotency=request)
    (att,) = db_att.live_attachments(ctx, vid)
    # The restarted volume service gave up on the connect; the key's first request is
    # gone (on MariaDB/PostgreSQL its lock went with it), so a repeat completes the key.
    stack.attachments._end_interrupted_connect(ctx, objects.Volume.get_by_id(ctx, vid),
                                               att.id, grace=0)
    claim = db_idem.Claim(ctx.project_id or '', 'attachment', request.key, 'fingerprint')
    assert db_idem.adopt(ctx, db_idem.get(ctx, claim).id)
    api = _api(WireRPC(stack))
    again = api.attachments.attachment_create(ctx, api.get(ctx, vid), connector=CONN_A,
                                              idempotency=request)
    assert again.id == att.id
    assert again.attach_status == 'attaching' and again.connection_info
    assert [a.id for a in db_att.live_attachments(ctx, vid)] == [att.id]


def test_failed_create_that_cannot_delete_its_attachment_keeps_it_for_the_retry(c, stack, ctx,
                                                                             monkeypatch):
    """The drill's database restart: the connect failed and so did its rollback. The key
    stays bound to the attachment, and the client's retry connects that one."""
    from blockstore.common import idempotency
    from blockstore.db import attachments as db_att

    class NoDatabase(WireRPC):
        def attachment_update(self, ctx, volume, attachment_id, connector):
            raise messaging.RemoteError('DBConnectionError', 'server closed the connection', '')
    vid = _volume(c, stack)
    request = idempotency.Request('key-db-%s' % vid, 'fingerprint')
    api = _api(NoDatabase(stack))

    def cannot(*args, **kwargs):
        raise RuntimeError('the database is shutting down')
    monkeypatch.setattr(api.attachments, 'attachment_delete', cannot)
    with pytest.raises(Exception) as e:
        api.attachments.attachment_create(ctx, api.get(ctx, vid), connector=CONN_A,
                                          idempotency=request)
    assert e.value.code == 503
    (left,) = db_att.live_attachments(ctx, vid)
    retry_api = _api(WireRPC(stack))
    again = retry_api.attachments.attachment_create(ctx, retry_api.get(ctx, vid),
                                                    connector=CONN_A, idempotency=request)
    assert again.id == left.id and again.connection_info
    assert [a.id for a in db_att.live_attachments(ctx, vid)] == [left.id]
