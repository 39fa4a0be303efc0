"""The fault drill's verdict (tests/fixtures/drill_verdict.py) on a database and a directory we fill.

Each finding the drill must report is planted once -- a volume stuck creating,
one in error with its user message, an available volume without its file, a
file of a deleted volume, a snapshot and a backup without data, a backup
object of a deleted backup, a temporary file -- beside healthy resources that
must not be reported; then every count is checked, and a clean state passes.
"""

import os
import uuid

import pytest
import sqlalchemy.orm as sa_orm

from blockstore.common import status as st
from blockstore.db import models
from tests.fixtures import database as dbfix
from tests.fixtures import drill_verdict

GiB = 1024 ** 3


def _id():
    return str(uuid.uuid4())


@pytest.fixture
def world(tmp_path):
    db = dbfix.Database('sqlite', sqlite_dir=str(tmp_path))
    db.create()
    db.sync()
    vdir, bdir = tmp_path / 'volumes', tmp_path / 'backups'
    vdir.mkdir()
    bdir.mkdir()
    session = sa_orm.Session(db.engine)
    vtype = models.VolumeType(id=_id(), name='t')
    session.add(vtype)
    session.flush()

    def volume(status, deleted=False, with_file=True, size=1, attach=None):
        vid = _id()
        session.add(models.Volume(id=vid, project_id='p', size=size, status=status,
                                  volume_type_id=vtype.id, deleted=deleted))
        if with_file:
            with open(str(vdir / ('volume-%s' % vid)), 'wb') as f:
                f.truncate(size * GiB)
        return vid

    volume.type_id = vtype.id
    view = drill_verdict.View(db.url, str(vdir), str(bdir))
    yield session, volume, view, vdir, bdir
    session.close()
    view.dispose()
    db.drop()


def test_a_clean_state_has_nothing_to_report(world):
    session, volume, view, _vdir, _bdir = world
    volume(st.AVAILABLE)
    volume(st.IN_USE, size=2)
    volume(st.DELETED, deleted=True, with_file=False)
    session.commit()
    found = view.verdict()
    assert drill_verdict.counts(found) == {
        '5xx': 0, 'stuck': 0, 'errors': 0, 'missing': 0, 'leftover': 0,
        'client_failures': 0, 'clients_still_running': 0}
    assert not drill_verdict.ok(found)          # no kills: a drill that did nothing fails
    assert drill_verdict.ok(dict(found, kills=1))
    assert view.settle(5) < 5


def test_every_planted_finding_is_reported(world):
    session, volume, view, vdir, bdir = world
    stuck = volume(st.CREATING, with_file=False)
    failed = volume(st.ERROR, with_file=False)
    session.add(models.Message(id=_id(), project_id='p', resource_uuid=failed,
                               resource_type='VOLUME', event_id='VOLUME_000001',
                               message_level='ERROR', detail='create failed'))
    no_file = volume(st.AVAILABLE, with_file=False)
    short = volume(st.IN_USE, size=2)
    os.truncate(str(vdir / ('volume-%s' % short)), GiB)
    gone = volume(st.DELETED, deleted=True)                  # its file stayed
    (vdir / '.volume-x.abc.tmp').write_bytes(b'')
    ok_vol = volume(st.AVAILABLE)
    session.flush()
    snap = _id()
    session.add(models.Snapshot(id=snap, volume_id=ok_vol, project_id='p', volume_size=1,
                                status=st.AVAILABLE, volume_type_id=volume.type_id))
    backup, dead_backup = _id(), _id()
    session.add(models.Backup(id=backup, volume_id=ok_vol, project_id='p',
                              status=st.AVAILABLE, container='backups'))
    leftover_dir = bdir / 'backups' / ('volume_%s' % ok_vol) / ('backup_%s' % dead_backup)
    leftover_dir.mkdir(parents=True)
    (leftover_dir / 'metadata').write_bytes(b'{}')
    session.commit()

    found = view.verdict()
    assert [v['id'] for v in found['stuck']['volumes']] == [stuck]
    assert found['stuck']['volumes'][0]['workers'] == []
    assert [(e['id'], e['messages']) for e in found['errors']] == [
        (failed, ['VOLUME_000001: create failed'])]
    assert sorted((m['kind'], m['id']) for m in found['missing']) == sorted([
        ('volume', no_file), ('volume', short), ('snapshot', snap), ('backup', backup)])
    problems = {m['file']: m['problem'] for m in found['leftover']}
    assert problems.pop('volume-%s' % gone) == 'its volume is deleted'
    assert 'temporary' in problems.pop('.volume-x.abc.tmp')
    (rel, why), = problems.items()
    assert rel.startswith('backups/backups/volume_%s/backup_%s' % (ok_vol, dead_backup))
    assert why == 'backup %s is deleted' % dead_backup
    assert drill_verdict.counts(found)['stuck'] == 1
    assert view.settle(0.1) >= 0.1 - 1e-6           # something stays stuck: it waits it out
