"""The API's WSGI server: settings that matter under load."""

import socket

from blockstore.common import service


def test_listen_backlog_takes_a_burst_of_clients():
    # cheroot's default backlog (5) made a burst of 64 clients see connection
    # resets (tests/functional/test_attach_races.py found it).
    svc = service.WSGIService(lambda env, start: [], '127.0.0.1', 0, threads=2)
    assert svc.server.request_queue_size == socket.SOMAXCONN >= 128
    svc.server.prepare()
    try:
        # 64 connections opened before the server accepts any are all queued.
        conns = [socket.create_connection(svc.server.bind_addr[:2], timeout=2)
                 for _ in range(64)]
        for c in conns:
            c.close()
    finally:
        svc.server.stop()
