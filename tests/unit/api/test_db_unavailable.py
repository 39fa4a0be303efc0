"""The database briefly unreachable (restarting, failing over): 503 with Retry-After, not a 500.

oslo.db raises DBConnectionError once its reconnect attempts are spent; the
client did nothing wrong and may retry, so the API says so in Cinder's error
format (``serviceUnavailable``) with a Retry-After header.
"""

from oslo_db import exception as db_exc
import pytest
from sqlalchemy import exc as sa_exc

from blockstore.db import api as db
from tests.unit.api.conftest import fault_of


class _Refused(Exception):
    """What a DB-API driver raises when the server refuses the connection."""


def _operational():
    return sa_exc.OperationalError('SELECT 1', {}, _Refused(
        'connection to server at "127.0.0.1", port 5432 failed: Connection refused'))


@pytest.mark.parametrize('error', [
    lambda: db_exc.DBConnectionError("(pymysql.err.OperationalError) (2003, \"Can't "
                                     "connect to MySQL server on '127.0.0.1'\")"),
    _operational,                                   # PostgreSQL, not wrapped by oslo.db
    lambda: db_exc.DBError(_operational()),         # wrapped as a plain DBError
], ids=['DBConnectionError', 'OperationalError', 'DBError'])
def test_database_unavailable_is_a_503_with_retry_after(client, monkeypatch, error):
    vol = client.create_volume()

    def unreachable(*args, **kwargs):
        raise error()
    monkeypatch.setattr(db, '_get', unreachable)
    resp = client.get('/v3/volumes/%s' % vol['id'])
    assert resp.status_int == 503, resp.body
    key, _code, message = fault_of(resp)
    assert key == 'serviceUnavailable'
    assert 'retry' in message and '127.0.0.1' not in message   # no server detail leaks
    assert int(resp.headers['Retry-After']) >= 1
    monkeypatch.undo()
    assert client.get('/v3/volumes/%s' % vol['id']).status_int == 200
