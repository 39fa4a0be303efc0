"""LVM driver behaviour beyond the conformance suite, on the real loop-device VG.

Extending a volume whose next extents are taken (it moves), volume_clear,
crash leftovers, manage/unmanage, and the clear errors for what needs
device-mapper on this kernel.
"""

import os
import random
import types
import uuid

import pytest

from blockstore.common import exception
from blockstore.volume.drivers import lvm
from tests.e2e.host import conftest as host

GiB = 1024 ** 3
MiB = 1024 ** 2


def new_volume(size):
    vid = str(uuid.uuid4())
    return types.SimpleNamespace(id=vid, name='volume-%s' % vid, size=size,
                                 provider_location=None, provider_auth=None,
                                 host='e2e@lvm', volume_type=None)


def pattern(seed, length=64 * 1024):
    return random.Random(seed).randbytes(length)


def read_lv(host_vg, name, offset, length):
    start, _ = host_vg.lv_byte_range(name)
    return host_vg.read_pv(start + offset, length)


def write_lv(host_vg, name, offset, data):
    with host_vg.lv_loop(name) as dev:
        fd = os.open(dev, os.O_RDWR)
        try:
            os.pwrite(fd, data, offset)
            os.fsync(fd)
        finally:
            os.close(fd)


def lvcreate(host_vg, name, size):
    host_vg.lvm('lvcreate', '--config', 'global{activation=0}', '-an', '-Zn',
                '--alloc', 'contiguous', '-L', size, '-n', name, host_vg.name)


class Made:
    """Volumes a test created, deleted at the end even on failure."""

    def __init__(self, driver):
        self.driver = driver
        self.volumes = []

    def create(self, size):
        vol = new_volume(size)
        self.volumes.append(vol)
        self.driver.create_volume(vol)
        return vol

    def cleanup(self):
        for vol in self.volumes:
            self.driver.delete_volume(vol)


def make_driver(host_vg, **overrides):
    driver = lvm.LVMDriver(host.backend_conf(host_vg, **overrides), 'e2e@lvm')
    driver.do_setup(None)
    driver.check_for_setup_error()
    return driver


@pytest.fixture
def made(host_vg):
    m = Made(make_driver(host_vg))
    yield m
    m.cleanup()


def test_extend_moves_a_volume_whose_next_extents_are_taken(made, host_vg):
    driver = made.driver
    first, second = made.create(1), made.create(1)
    head, tail, other = pattern('head'), pattern('tail'), pattern('other')
    write_lv(host_vg, first.name, 0, head)
    write_lv(host_vg, first.name, GiB - len(tail), tail)
    write_lv(host_vg, second.name, 0, other)
    before, _ = host_vg.lv_byte_range(first.name)

    driver.extend_volume(first, 2)

    after, size = host_vg.lv_byte_range(first.name)
    assert after != before and size == 2 * GiB
    assert read_lv(host_vg, first.name, 0, len(head)) == head
    assert read_lv(host_vg, first.name, GiB - len(tail), len(tail)) == tail
    assert read_lv(host_vg, first.name, 2 * GiB - 4096, 4096) == bytes(4096)
    assert read_lv(host_vg, second.name, 0, len(other)) == other
    assert sorted(host_vg.lv_names()) == sorted([first.name, second.name])
    # The old extents were wiped before being freed (volume_clear = zero).
    assert host_vg.read_pv(before, len(head)) == bytes(len(head))
    assert host_vg.loops_of_file() == [host_vg.pv_device()]


def test_extend_in_place_when_there_is_room(made, host_vg):
    vol = made.create(1)
    data = pattern('in-place')
    write_lv(host_vg, vol.name, 0, data)
    before, _ = host_vg.lv_byte_range(vol.name)
    made.driver.extend_volume(vol, 3)
    assert host_vg.lv_byte_range(vol.name) == (before, 3 * GiB)
    assert read_lv(host_vg, vol.name, 0, len(data)) == data


@pytest.mark.parametrize('clear, expect_zeros', [('zero', True), ('none', False)])
def test_volume_clear_decides_what_the_next_volume_sees(host_vg, clear, expect_zeros):
    driver = make_driver(host_vg, volume_clear=clear)
    made = Made(driver)
    try:
        old = made.create(1)
        data = pattern('secret-data')
        write_lv(host_vg, old.name, 512 * MiB, data)
        where = host_vg.lv_byte_range(old.name)
        driver.delete_volume(old)
        new = made.create(1)
        assert host_vg.lv_byte_range(new.name) == where  # same extents reused
        seen = read_lv(host_vg, new.name, 512 * MiB, len(data))
        assert seen == (bytes(len(data)) if expect_zeros else data)
    finally:
        made.cleanup()


def test_volume_clear_size_wipes_only_the_start(host_vg):
    driver = make_driver(host_vg, volume_clear_size=1)
    made = Made(driver)
    try:
        vol = made.create(1)
        start, end = pattern('start'), pattern('end')
        write_lv(host_vg, vol.name, 0, start)
        write_lv(host_vg, vol.name, 2 * MiB, end)
        offset, _ = host_vg.lv_byte_range(vol.name)
        driver.delete_volume(vol)
        assert host_vg.read_pv(offset, len(start)) == bytes(len(start))
        assert host_vg.read_pv(offset + 2 * MiB, len(end)) == end
    finally:
        made.cleanup()


def test_setup_finishes_an_interrupted_move_and_drops_half_clones(made, host_vg):
    driver = made.driver
    vol = made.create(1)
    # A crash between "rename volume -> .old" and "rename .new -> volume":
    host_vg.lvm('lvrename', '--config', 'global{activation=0}', host_vg.name, vol.name,
                vol.name + '.old')
    lvcreate(host_vg, vol.name + '.new', '2g')
    moved = pattern('moved')
    write_lv(host_vg, vol.name + '.new', 0, moved)
    # ... and a clone that never completed.
    half = new_volume(1)
    made.volumes.append(half)
    lvcreate(host_vg, half.name + '.tmp', '1g')

    driver.do_setup(None)

    assert sorted(host_vg.lv_names()) == [vol.name]
    assert host_vg.lv_size(vol.name) == 2 * GiB
    assert read_lv(host_vg, vol.name, 0, len(moved)) == moved


def test_manage_existing_lv_and_unmanage(made, host_vg):
    driver = made.driver
    lvcreate(host_vg, 'legacy-data', '1536m')
    data = pattern('legacy')
    write_lv(host_vg, 'legacy-data', 0, data)
    managed_already = made.create(1)

    listing = {e['reference']['source-name']: e
               for e in driver.get_manageable_volumes([managed_already.id])}
    assert listing['legacy-data']['safe_to_manage'] is True
    assert listing['legacy-data']['size'] == 2
    assert listing[managed_already.name]['safe_to_manage'] is False
    assert listing[managed_already.name]['reason_not_safe'] == 'Already managed'
    assert listing[managed_already.name]['cinder_id'] == managed_already.id

    ref = {'source-name': 'legacy-data'}
    assert driver.manage_existing_get_size(None, ref) == 2
    vol = new_volume(2)
    made.volumes.append(vol)
    assert driver.manage_existing(vol, ref) is None
    assert driver.manage_existing(vol, ref) is None  # re-run after success
    assert 'legacy-data' not in host_vg.lv_names()
    assert host_vg.lv_size(vol.name) == 2 * GiB  # grown to whole GiB
    assert read_lv(host_vg, vol.name, 0, len(data)) == data

    with pytest.raises(exception.InvalidVolume):
        driver.manage_existing_get_size(None, {'source-name': 'no-such-lv'})
    with pytest.raises(exception.InvalidVolume):
        driver.manage_existing_get_size(None, {'source-id': 'x'})
    with pytest.raises(exception.InvalidVolume):
        driver.manage_existing_get_size(None, {'source-name': '--all'})

    driver.unmanage(vol)
    assert vol.name in host_vg.lv_names()
    assert read_lv(host_vg, vol.name, 0, len(data)) == data


def test_what_needs_device_mapper_fails_clearly(made, host_vg):
    driver = made.driver
    assert driver.device_mapper is False
    vol = made.create(1)
    snap = types.SimpleNamespace(id='s1', name='snapshot-s1', volume_id=vol.id,
                                 volume_size=1, volume=vol, provider_location=None)
    with pytest.raises(exception.VolumeBackendAPIException, match='device-mapper'):
        driver.create_snapshot(snap)
    driver.delete_snapshot(snap)  # never created: nothing to do
    with pytest.raises(exception.VolumeBackendAPIException, match='device-mapper'):
        driver.create_volume_from_snapshot(new_volume(1), snap)
    with pytest.raises(exception.VolumeBackendAPIException, match='device-mapper'):
        driver.revert_to_snapshot(None, vol, snap)

    thin = lvm.LVMDriver(host.backend_conf(host_vg, lvm_type='thin'), 'e2e@lvm')
    with pytest.raises(exception.VolumeBackendAPIException, match='dm-thin-pool'):
        thin.do_setup(None)
    active = lvm.LVMDriver(host.backend_conf(host_vg, lvm_activation=True), 'e2e@lvm')
    with pytest.raises(exception.VolumeBackendAPIException, match='CONFIG_BLK_DEV_DM'):
        active.check_for_setup_error()
    assert sorted(host_vg.lv_names()) == [vol.name]


def test_stats_follow_the_vg(made, host_vg):
    stats = made.driver.get_volume_stats(refresh=True)
    (pool,) = stats['pools']
    assert stats['storage_protocol'] == 'iSCSI'
    assert stats['volume_backend_name'] == 'lvm-e2e'
    assert pool['total_capacity_gb'] == pytest.approx(host.HostVG.SIZE_GB, abs=0.01)
    assert pool['multiattach'] is True
    assert pool['thin_provisioning_support'] is False
    made.create(2)
    after = made.driver.get_volume_stats(refresh=True)['pools'][0]
    assert after['free_capacity_gb'] == pytest.approx(pool['free_capacity_gb'] - 2)
    assert after['allocated_capacity_gb'] == 2 and after['total_volumes'] == 1
