"""Versioned objects: database round trips, status protection, and version fingerprints."""

import os

import pytest

from blockstore import objects
from blockstore.common import exception
from blockstore.db import api as db
from blockstore.objects import base

objects.register_all()

pytestmark = pytest.mark.usefixtures('database')

# Fingerprint ('VERSION-md5 of fields and remotable methods') of every registered
# object. When this test fails you changed an object's fields or methods:
#   1. bump that object's VERSION (and obj_make_compatible for the old one),
#   2. add a history version to OBJ_VERSIONS in blockstore/objects/base.py,
#   3. paste the new fingerprint here.
# Never update a fingerprint here without bumping the VERSION.
OBJECT_FINGERPRINTS = {
    'Backup': '1.0-386603c62f49e9d6817414cd1dd14583',
    'BackupList': '1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e',
    'Service': '1.0-90d9db0581f3ef991262c55c8a7b5d3c',
    'ServiceList': '1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e',
    'Snapshot': '1.2-7ced524506f12102a7827c148812feee',
    'SnapshotList': '1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e',
    'Volume': '1.2-377ade5f23757441a990651c0419459a',
    'VolumeList': '1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e',
    'VolumeType': '1.1-05642e5f0266ccf7bf477a8f8588cf15',
    'VolumeTypeList': '1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e',
    'Worker': '1.0-6d270bd9cb01b80e2926f528863723c5',
    'WorkerList': '1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e',
}

# Which object versions embed which: a child's VERSION bump must bump the parent.
OBJECT_RELATIONSHIPS = {
    'Snapshot': {'Volume': '1.2'},
    'Volume': {'VolumeType': '1.1'},
}


def _version_checker():
    try:
        from oslo_versionedobjects import fixture
    except ImportError as e:  # the 'fixtures' package is missing
        fixture, message = None, (
            'oslo_versionedobjects.fixture cannot be imported (%s); add "fixtures" to the '
            'test extras in setup.cfg' % e)
    if fixture is None:
        if os.environ.get('CI'):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return fixture.ObjectVersionChecker(base.BlockstoreObjectRegistry.obj_classes())


def test_object_fingerprints():
    checker = _version_checker()
    expected, actual = checker.test_hashes(OBJECT_FINGERPRINTS)
    assert actual == expected, (
        'Object fields changed without a VERSION bump (or a new object is missing here). '
        'Bump VERSION, record it in OBJ_VERSIONS, then update OBJECT_FINGERPRINTS. '
        'Differences (name: expected -> actual): %s' % {
            k: '%s -> %s' % (expected.get(k), actual.get(k)) for k in set(expected) | set(actual)})


def test_object_relationships():
    checker = _version_checker()
    assert checker.get_dependency_tree() == OBJECT_RELATIONSHIPS


def test_version_history_lists_every_object_at_its_version():
    registered = {name: classes[0].VERSION
                  for name, classes in base.BlockstoreObjectRegistry.obj_classes().items()}
    assert base.OBJ_VERSIONS.get_manifest() == registered


# ---------------------------------------------------------------------------
# Round trips through the database
# ---------------------------------------------------------------------------


@pytest.fixture
def vtype(ctx):
    vt = objects.VolumeType(ctx, name='objects-%s' % os.urandom(4).hex(),
                            description='test type', is_public=True,
                            extra_specs={'volume_backend_name': 'file'})
    vt.create()
    return vt


def _volume(ctx, vtype, **kwargs):
    values = dict(project_id='proj', user_id='user', size=2, volume_type_id=vtype.id,
                  display_name='vol', metadata={'a': '1', 'b': None},
                  admin_metadata={'readonly': 'False'})
    values.update(kwargs)
    vol = objects.Volume(ctx, **values)
    vol.create()
    return vol


def test_volume_type_round_trip(ctx, vtype):
    assert vtype.created_at is not None
    got = objects.VolumeType.get_by_id(ctx, vtype.id)
    assert (got.name, got.description, got.is_public, got.extra_specs) == (
        vtype.name, 'test type', True, {'volume_backend_name': 'file'})
    assert objects.VolumeType.get_by_name(ctx, vtype.name).id == vtype.id
    assert vtype.id in [t.id for t in objects.VolumeTypeList.get_all(ctx)]
    with pytest.raises(exception.VolumeTypeNotFound):
        objects.VolumeType.get_by_id(ctx, '00000000-0000-0000-0000-000000000000')
    with pytest.raises(exception.VolumeTypeExists):
        objects.VolumeType(ctx, name=vtype.name, is_public=True).create()


def test_volume_round_trip(ctx, vtype):
    vol = _volume(ctx, vtype)
    assert vol.status == 'creating'
    assert vol.attach_status == 'detached'
    assert vol.obj_what_changed() == set()

    got = objects.Volume.get_by_id(ctx, vol.id)
    for name in vol._db_fields:
        assert getattr(got, name) == getattr(vol, name), name
    assert got.metadata == {'a': '1', 'b': None}
    assert got.admin_metadata == {'readonly': 'False'}
    assert got.volume_type.id == vtype.id
    assert got.volume_type.extra_specs == {'volume_backend_name': 'file'}
    assert got.name == 'volume-%s' % vol.id

    got.metadata = {'a': '2', 'c': '3'}
    got.display_name = 'renamed'
    got.save()
    again = objects.Volume.get_by_id(ctx, vol.id)
    assert again.metadata == {'a': '2', 'c': '3'}
    assert again.display_name == 'renamed'

    vol.refresh()
    assert vol.display_name == 'renamed'
    listed = db.volume_get_all(ctx, filters={'project_id': 'proj'})
    assert vol.id in [v.id for v in listed]
    record = [v for v in listed if v.id == vol.id][0]
    assert record.metadata == vol.metadata and record.volume_type.name == vtype.name

    with pytest.raises(exception.VolumeNotFound):
        objects.Volume.get_by_id(ctx, vol.id, project_id='other')


def test_volume_save_refuses_status(ctx, vtype):
    vol = _volume(ctx, vtype)
    vol.status = 'available'
    with pytest.raises(AssertionError):
        vol.save()
    assert objects.Volume.get_by_id(ctx, vol.id).status == 'creating'


def test_volume_create_refuses_other_status(ctx, vtype):
    with pytest.raises(AssertionError):
        _volume(ctx, vtype, status='available')


def test_volume_transition_updates_object(ctx, vtype):
    vol = _volume(ctx, vtype)
    assert vol.transition('create_done', host='node@file') is True
    assert (vol.status, vol.host) == ('available', 'node@file')
    assert vol.obj_what_changed() == set()
    assert objects.Volume.get_by_id(ctx, vol.id).status == 'available'
    assert vol.transition('create_done') is False
    with pytest.raises(exception.InvalidVolume, match='but is available'):
        vol.transition_or_raise('create_done')


def test_transition_or_raise_shows_a_retry_that_wins(ctx, vtype, monkeypatch):
    """The first try loses (a concurrent change, since undone); the retry wins."""
    from blockstore.objects import states
    vol = _volume(ctx, vtype)
    real = states.transition
    calls = []

    def lose_once(*args, **kwargs):
        calls.append(args[3])
        return False if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(states, 'transition', lose_once)
    vol.transition_or_raise('create_done', host='node@file')
    assert calls == ['create_done', 'create_done']
    assert objects.Volume.get_by_id(ctx, vol.id).status == 'available'
    assert (vol.status, vol.host) == ('available', 'node@file')
    assert vol.obj_what_changed() == set()


def test_snapshot_round_trip(ctx, vtype):
    vol = _volume(ctx, vtype)
    snap = objects.Snapshot(ctx, volume_id=vol.id, project_id='proj', user_id='user',
                            volume_size=vol.size, volume_type_id=vtype.id,
                            display_name='snap', metadata={'k': 'v'})
    snap.create()
    assert snap.status == 'creating'
    got = objects.Snapshot.get_by_id(ctx, snap.id)
    assert (got.volume_id, got.metadata, got.display_name) == (vol.id, {'k': 'v'}, 'snap')
    assert got.volume.id == vol.id  # lazy-loaded
    assert got.name == 'snapshot-%s' % snap.id

    got.metadata = {}
    got.save()
    assert objects.Snapshot.get_by_id(ctx, snap.id).metadata == {}
    got.status = 'available'
    with pytest.raises(AssertionError):
        got.save()
    assert snap.id in [s.id for s in db.snapshot_get_all(ctx, filters={'volume_id': vol.id})]


def test_service_round_trip(ctx):
    host = 'host-%s' % os.urandom(4).hex()
    svc = objects.Service(ctx, host=host, binary='blockstore-volume', topic='blockstore-volume',
                          rpc_current_version='1.0', object_current_version='1.0')
    svc.create()
    assert svc.id is not None and svc.report_count == 0
    got = objects.Service.get_by_args(ctx, host, 'blockstore-volume')
    assert got.id == svc.id and got.availability_zone == 'nova'
    got.disabled = True
    got.disabled_reason = 'maintenance'
    got.save()
    assert objects.Service.get_by_id(ctx, svc.id).disabled_reason == 'maintenance'
    assert svc.id in [s.id for s in objects.ServiceList.get_all(ctx, host=host)]
    svc.destroy()
    with pytest.raises(exception.ServiceNotFound):
        objects.Service.get_by_id(ctx, svc.id)


def test_worker_claim_is_exclusive(ctx):
    rid = '11111111-2222-3333-4444-%012x' % int.from_bytes(os.urandom(6), 'big')
    w = objects.Worker.record(ctx, 'volume', rid, 'delete', 'deleting')
    first = objects.WorkerList.get_all(ctx, resource_id=rid)[0]
    second = objects.WorkerList.get_all(ctx, resource_id=rid)[0]
    assert first.claim(None) is True
    assert first.race_preventer == w.race_preventer + 1
    assert second.claim(None) is False
    w.destroy()
    assert len(objects.WorkerList.get_all(ctx, resource_id=rid)) == 0


def test_serializer_round_trip_and_backport(ctx, vtype):
    vol = _volume(ctx, vtype)
    for history in (None, base.OBJ_VERSIONS.get_current()):
        serializer = base.BlockstoreObjectSerializer(history)
        primitive = serializer.serialize_entity(ctx, vol)
        assert primitive['blockstore_object.name'] == 'Volume'
        back = serializer.deserialize_entity(ctx, primitive)
        assert isinstance(back, objects.Volume)
        assert (back.id, back.metadata, back.volume_type.name) == (
            vol.id, vol.metadata, vtype.name)


def test_volume_type_backports_qos_specs_id():
    from blockstore.common import context
    vt = objects.VolumeType(context.get_admin_context(), id=db.new_uuid(), name='t',
                            is_public=True, extra_specs={}, qos_specs_id=db.new_uuid())
    vol = objects.Volume(context.get_admin_context(), id=db.new_uuid(), volume_type=vt)
    old = base.BlockstoreObjectSerializer('1.0').serialize_entity(None, vol)
    child = old['blockstore_object.data']['volume_type']
    assert old['blockstore_object.version'] == '1.0'
    assert child['blockstore_object.version'] == '1.0'
    assert 'qos_specs_id' not in child['blockstore_object.data']
    new = base.BlockstoreObjectSerializer('1.1').serialize_entity(None, vol)
    assert 'qos_specs_id' in new['blockstore_object.data']['volume_type']['blockstore_object.data']
