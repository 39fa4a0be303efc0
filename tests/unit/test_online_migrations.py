"""Online data migrations (0009 services.release_name) and the upgrade check that waits
for them; the rows are what a previous-release service writes (no release_name)."""

import io

import pytest

from blockstore.cmd import manage
from blockstore.cmd import status
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore.db import online_migrations as db_online
from blockstore.ops import online_migrations


@pytest.fixture(autouse=True)
def no_services(database, ctx):
    with db._writer(ctx) as session:
        session.execute(db.sa.delete(db.models.Worker))
        session.execute(db.sa.delete(db.models.Service))
    yield


def _old_service(ctx, host, binary='blockstore-volume', rpc_version='1.8', objects='1.3'):
    """A row as 0.1 writes it: versions, no release_name."""
    return db.service_create(ctx, {'host': host, 'binary': binary, 'topic': 't',
                                   'rpc_current_version': rpc_version,
                                   'object_current_version': objects})


def _releases(ctx):
    return {r.host: r.release_name for r in db.service_get_all(ctx)}


def test_release_of_reads_the_release_table():
    assert online_migrations.release_of('blockstore-volume', '1.8', '1.3') == '0.1'
    assert online_migrations.release_of('blockstore-scheduler', '1.2', '1.3') == '0.1'
    assert online_migrations.release_of('blockstore-backup', '1.0', '1.3') == '0.1'
    assert online_migrations.release_of('blockstore-volume', '1.7', '1.3') == 'unknown'
    assert online_migrations.release_of('blockstore-volume', None, None) == 'unknown'


def test_migration_counts_then_fills_in_batches(ctx):
    for i in range(5):
        _old_service(ctx, 'old%d@b' % i)
    _old_service(ctx, 'odd@b', rpc_version='0.9')
    new = _old_service(ctx, 'new@b', rpc_version='1.9')
    db_online.service_set_release(ctx, new.id, rpc.CURRENT_RELEASE)

    assert online_migrations.service_release_names(ctx, 0) == (6, 0)
    assert online_migrations.remaining(ctx) == {'service_release_names': 6}
    assert online_migrations.service_release_names(ctx, 4) == (6, 4)
    assert online_migrations.service_release_names(ctx, 4) == (2, 2)
    assert online_migrations.service_release_names(ctx, 4) == (0, 0)
    got = _releases(ctx)
    assert got == dict({'old%d@b' % i: '0.1' for i in range(5)}, **{
        'odd@b': 'unknown', 'new@b': rpc.CURRENT_RELEASE})


def test_fill_never_overwrites_what_a_service_wrote(ctx):
    row = _old_service(ctx, 'racing@b')
    db_online.service_set_release(ctx, row.id, rpc.CURRENT_RELEASE)   # it restarted new
    assert not db_online.service_fill_release(ctx, row.id, '0.1')
    assert _releases(ctx)['racing@b'] == rpc.CURRENT_RELEASE


def test_run_honours_max_count_and_batches(ctx):
    for i in range(7):
        _old_service(ctx, 'b%d@b' % i)
    assert online_migrations.run(ctx, max_count=3, batch=2) == [
        ('service_release_names', 7, 3, None)]
    assert online_migrations.run(ctx, batch=2) == [('service_release_names', 4, 4, None)]
    assert online_migrations.run(ctx) == [('service_release_names', 0, 0, None)]


def test_run_reports_a_failing_migration_and_runs_the_others(ctx, monkeypatch):
    def broken(context, max_count):
        raise RuntimeError('boom')
    broken.__name__ = 'broken'
    monkeypatch.setattr(online_migrations, 'MIGRATIONS',
                        (broken, online_migrations.service_release_names))
    _old_service(ctx, 'x@b')
    results = online_migrations.run(ctx)
    assert results == [('broken', 0, 0, 'RuntimeError: boom'),
                       ('service_release_names', 1, 1, None)]


def _manage(*argv):
    """(exit status, output) of a blockstore-manage command on the test's database."""
    out = io.StringIO()
    args = manage.build_parser().parse_args(list(argv))
    try:
        code = args.func(args, out) or 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
        if not isinstance(e.code, int):
            out.write(str(e.code))
    return code, out.getvalue()


def test_manage_command_exit_status_and_table(ctx):
    for i in range(3):
        _old_service(ctx, 'm%d@b' % i)
    code, out = _manage('db', 'online_data_migrations', '--max-count', '2')
    assert code == 1, out
    assert 'Total Needed' in out and 'service_release_names' in out
    assert '1 row(s) still to migrate' in out
    code, out = _manage('db', 'online_data_migrations')
    assert code == 0 and 'complete' in out, out
    code, out = _manage('db', 'online_data_migrations', '--max-count', '0')
    assert code == 1 and '--max-count must be >= 1' in out


def test_upgrade_check_fails_until_migrated(ctx):
    _old_service(ctx, 'c@b')
    result, detail = status.check_online_migrations()
    assert result == 'Failure' and 'service_release_names: 1' in detail
    online_migrations.run(ctx)
    assert status.check_online_migrations()[0] == 'Success'
    # The filled row says 0.1: the service check names it as behind this release.
    result, detail = status.check_services()
    assert result == 'Warning' and 'c@b (0.1)' in detail


def test_service_of_this_release_records_it(ctx):
    from blockstore.common import service as service_mod

    class Manager:
        RPC_API_VERSION = '1.8'
        service = None
    svc = service_mod.Service('blockstore-volume', 'fresh@b', 't', Manager())
    svc._register(ctx)
    assert _releases(ctx)['fresh@b'] == rpc.CURRENT_RELEASE
    assert online_migrations.remaining(ctx) == {}
