"""The database briefly unreachable (restarting, failing over): 503 with Retry-After, not a 500.

oslo.db raises DBConnectionError once its reconnect attempts are spent; the
client did nothing wrong and may retry, so the API says so in Cinder's error
format (``serviceUnavailable``) with a Retry-After header.
"""

from oslo_db import exception as db_exc

from blockstore.db import api as db
from tests.unit.api.conftest import fault_of


def test_database_unavailable_is_a_503_with_retry_after(client, monkeypatch):
    vol = client.create_volume()

    def unreachable(*args, **kwargs):
        raise db_exc.DBConnectionError("(pymysql.err.OperationalError) (2003, \"Can't "
                                       "connect to MySQL server on '127.0.0.1'\")")
    monkeypatch.setattr(db, '_get', unreachable)
    resp = client.get('/v3/volumes/%s' % vol['id'])
    assert resp.status_int == 503, resp.body
    key, _code, message = fault_of(resp)
    assert key == 'serviceUnavailable'
    assert 'retry' in message and '127.0.0.1' not in message   # no server detail leaks
    assert int(resp.headers['Retry-After']) >= 1
    monkeypatch.undo()
    assert client.get('/v3/volumes/%s' % vol['id']).status_int == 200
