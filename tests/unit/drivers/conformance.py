"""Conformance suite every volume driver's tests run.

Use it by subclassing :class:`DriverConformance` in a ``Test*`` class and
providing two pytest fixtures:

* ``driver`` -- a freshly constructed driver (the suite calls ``do_setup`` and
  ``check_for_setup_error``);
* ``inspector`` -- an :class:`Inspector` reading and writing the bytes of the
  driver's volumes and snapshots directly on the backend.

Each test exercises one interface the driver declares and is skipped when
the driver does not declare it. Volumes are small (``SIZE_GB``) and only a
few KiB are written, so thin/sparse backends run the suite quickly.
"""

import abc
import concurrent.futures
import random
import types
import uuid

import pytest

from blockstore.common import exception
from blockstore.volume.drivers import base

GiB = 1024 ** 3


def pattern(seed, length=64 * 1024):
    """Deterministic bytes, different for every seed."""
    return random.Random(seed).randbytes(length)


class Inspector(abc.ABC):
    """Direct access to a backend's data, bypassing the driver under test.

    ``obj`` is a volume-like or snapshot-like object after its create call
    (the driver's model update applied).
    """

    @abc.abstractmethod
    def exists(self, obj):
        """Whether the backend holds data for ``obj``."""

    @abc.abstractmethod
    def size(self, obj):
        """Size of ``obj``'s data in bytes."""

    @abc.abstractmethod
    def read(self, obj, offset, length):
        """``length`` bytes of ``obj`` at ``offset``."""

    @abc.abstractmethod
    def write(self, obj, offset, data):
        """Write ``data`` into ``obj`` at ``offset`` (durably)."""


class Backend:
    """A driver plus helpers building stand-in objects; cleans up after a test."""

    def __init__(self, driver, inspector):
        self.driver = driver
        self.inspector = inspector
        self._volumes = []
        self._snapshots = []

    @staticmethod
    def _apply(obj, update):
        assert update is None or isinstance(update, dict), update
        for key, value in (update or {}).items():
            setattr(obj, key, value)
        return obj

    def new_volume(self, size):
        vid = str(uuid.uuid4())
        vol = types.SimpleNamespace(id=vid, name='volume-%s' % vid, size=size,
                                    provider_location=None, host=self.driver.host,
                                    volume_type=None)
        self._volumes.append(vol)
        return vol

    def new_snapshot(self, volume):
        sid = str(uuid.uuid4())
        snap = types.SimpleNamespace(id=sid, name='snapshot-%s' % sid, volume_id=volume.id,
                                     volume_size=volume.size, volume=volume,
                                     provider_location=None)
        self._snapshots.append(snap)
        return snap

    def create_volume(self, size):
        vol = self.new_volume(size)
        return self._apply(vol, self.driver.create_volume(vol))

    def create_snapshot(self, volume):
        snap = self.new_snapshot(volume)
        return self._apply(snap, self.driver.create_snapshot(snap))

    def create_from_snapshot(self, snapshot, size):
        vol = self.new_volume(size)
        return self._apply(vol, self.driver.create_volume_from_snapshot(vol, snapshot))

    def clone(self, src, size):
        vol = self.new_volume(size)
        return self._apply(vol, self.driver.create_cloned_volume(vol, src))

    def cleanup(self):
        if base.supports(self.driver, base.SnapshotOps):
            for snap in self._snapshots:
                self.driver.delete_snapshot(snap)
        for vol in self._volumes:
            self.driver.delete_volume(vol)


class DriverConformance:
    """Mixin of conformance tests; see the module docstring."""

    #: Size of the volumes the suite creates, in GiB (at least 1).
    SIZE_GB = 1
    #: Whether a new volume must read back as zeros.
    FRESH_VOLUMES_READ_ZERO = True

    @pytest.fixture
    def backend(self, driver, inspector):
        driver.do_setup(None)
        driver.check_for_setup_error()
        b = Backend(driver, inspector)
        yield b
        b.cleanup()

    @staticmethod
    def require(driver, interface):
        if not base.supports(driver, interface):
            pytest.skip('driver does not declare %s' % interface.__name__)

    def end_offset(self, size_gb, data):
        return size_gb * GiB - len(data)

    # -- declaration -------------------------------------------------------

    def test_declared_interfaces_match_supports(self, driver):
        declared = base.declared_interfaces(driver)
        assert 'VolumeDriver' in declared
        for iface in base.INTERFACES:
            assert (iface.__name__ in declared) == base.supports(driver, iface)
            assert base.supports(driver, iface.__name__) == base.supports(driver, iface)
            assert base.supports(type(driver), iface) == base.supports(driver, iface)
        assert base.declared_interfaces(type(driver)) == declared

    def test_setup_is_repeatable(self, backend):
        backend.driver.do_setup(None)
        backend.driver.check_for_setup_error()

    # -- VolumeDriver ------------------------------------------------------

    def test_create_volume(self, backend):
        vol = backend.create_volume(self.SIZE_GB)
        ins = backend.inspector
        assert ins.exists(vol)
        assert ins.size(vol) == self.SIZE_GB * GiB
        if self.FRESH_VOLUMES_READ_ZERO:
            assert ins.read(vol, 0, 4096) == bytes(4096)
            assert ins.read(vol, self.SIZE_GB * GiB - 4096, 4096) == bytes(4096)

    def test_written_data_reads_back(self, backend):
        vol = backend.create_volume(self.SIZE_GB)
        data = pattern('rw')
        backend.inspector.write(vol, 4096, data)
        assert backend.inspector.read(vol, 4096, len(data)) == data

    def test_create_volume_rerun_keeps_data(self, backend):
        vol = backend.create_volume(self.SIZE_GB)
        data = pattern('rerun')
        backend.inspector.write(vol, 0, data)
        update = backend.driver.create_volume(vol)
        assert update is None or isinstance(update, dict)
        assert backend.inspector.size(vol) == self.SIZE_GB * GiB
        assert backend.inspector.read(vol, 0, len(data)) == data

    def test_delete_volume_is_idempotent(self, backend):
        vol = backend.create_volume(self.SIZE_GB)
        backend.driver.delete_volume(vol)
        assert not backend.inspector.exists(vol)
        backend.driver.delete_volume(vol)
        assert not backend.inspector.exists(vol)

    def test_delete_never_created_volume(self, backend):
        backend.driver.delete_volume(backend.new_volume(self.SIZE_GB))

    def test_extend_keeps_data_and_grows(self, backend):
        vol = backend.create_volume(self.SIZE_GB)
        head, tail = pattern('head'), pattern('tail')
        backend.inspector.write(vol, 0, head)
        backend.inspector.write(vol, self.end_offset(self.SIZE_GB, tail), tail)
        backend.driver.extend_volume(vol, self.SIZE_GB + 1)
        vol.size = self.SIZE_GB + 1
        ins = backend.inspector
        assert ins.size(vol) == (self.SIZE_GB + 1) * GiB
        assert ins.read(vol, 0, len(head)) == head
        assert ins.read(vol, self.end_offset(self.SIZE_GB, tail), len(tail)) == tail
        assert ins.read(vol, (self.SIZE_GB + 1) * GiB - 4096, 4096) == bytes(4096)

    def test_shrink_is_refused(self, backend):
        vol = backend.create_volume(self.SIZE_GB + 1)
        data = pattern('shrink')
        backend.inspector.write(vol, 0, data)
        with pytest.raises(exception.InvalidVolume):
            backend.driver.extend_volume(vol, self.SIZE_GB)
        assert backend.inspector.size(vol) == (self.SIZE_GB + 1) * GiB
        assert backend.inspector.read(vol, 0, len(data)) == data

    def test_stats_shape(self, backend):
        stats = backend.driver.get_volume_stats(refresh=True)
        for key in ('volume_backend_name', 'vendor_name', 'driver_version',
                    'storage_protocol', 'pools'):
            assert key in stats, key
        assert stats['pools'], 'at least one pool'
        for pool in stats['pools']:
            for key in ('pool_name', 'reserved_percentage', 'max_over_subscription_ratio',
                        'thin_provisioning_support', 'thick_provisioning_support'):
                assert key in pool, key
            numbers = ('total_capacity_gb', 'free_capacity_gb', 'allocated_capacity_gb',
                       'provisioned_capacity_gb')
            for key in numbers:
                assert isinstance(pool[key], (int, float)), key
                assert pool[key] >= 0, key
            assert pool['free_capacity_gb'] <= pool['total_capacity_gb']
            assert isinstance(pool['thin_provisioning_support'], bool)
            assert isinstance(pool['thick_provisioning_support'], bool)

    def test_stats_provisioned_reflects_volumes(self, backend):
        def provisioned():
            pools = backend.driver.get_volume_stats(refresh=True)['pools']
            return sum(p['provisioned_capacity_gb'] for p in pools)

        before = provisioned()
        backend.create_volume(self.SIZE_GB)
        backend.create_volume(self.SIZE_GB + 1)
        assert provisioned() == pytest.approx(before + 2 * self.SIZE_GB + 1)

    def test_concurrent_creates_on_different_volumes(self, backend):
        vols = [backend.new_volume(self.SIZE_GB) for _ in range(8)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            updates = list(pool.map(backend.driver.create_volume, vols))
        for vol, update in zip(vols, updates):
            backend._apply(vol, update)
            assert backend.inspector.size(vol) == self.SIZE_GB * GiB

    # -- SnapshotOps -------------------------------------------------------

    def test_snapshot_keeps_point_in_time_data(self, backend):
        self.require(backend.driver, base.SnapshotOps)
        old, new = pattern('old'), pattern('new')
        vol = backend.create_volume(self.SIZE_GB)
        backend.inspector.write(vol, 0, old)
        snap = backend.create_snapshot(vol)
        assert backend.inspector.exists(snap)
        backend.inspector.write(vol, 0, new)

        restored = backend.create_from_snapshot(snap, self.SIZE_GB)
        assert backend.inspector.size(restored) == self.SIZE_GB * GiB
        assert backend.inspector.read(restored, 0, len(old)) == old
        assert backend.inspector.read(vol, 0, len(new)) == new

    def test_create_snapshot_rerun(self, backend):
        self.require(backend.driver, base.SnapshotOps)
        vol = backend.create_volume(self.SIZE_GB)
        snap = backend.create_snapshot(vol)
        update = backend.driver.create_snapshot(snap)
        assert update is None or isinstance(update, dict)
        assert backend.inspector.exists(snap)

    def test_volume_from_snapshot_can_be_larger(self, backend):
        self.require(backend.driver, base.SnapshotOps)
        data = pattern('grow')
        vol = backend.create_volume(self.SIZE_GB)
        backend.inspector.write(vol, self.end_offset(self.SIZE_GB, data), data)
        snap = backend.create_snapshot(vol)
        bigger = backend.create_from_snapshot(snap, self.SIZE_GB + 1)
        assert backend.inspector.size(bigger) == (self.SIZE_GB + 1) * GiB
        assert backend.inspector.read(
            bigger, self.end_offset(self.SIZE_GB, data), len(data)) == data

    def test_volume_from_snapshot_smaller_is_refused(self, backend):
        self.require(backend.driver, base.SnapshotOps)
        vol = backend.create_volume(self.SIZE_GB + 1)
        snap = backend.create_snapshot(vol)
        small = backend.new_volume(self.SIZE_GB)
        with pytest.raises(exception.InvalidVolume):
            backend.driver.create_volume_from_snapshot(small, snap)
        assert not backend.inspector.exists(small)

    def test_delete_snapshot_is_idempotent(self, backend):
        self.require(backend.driver, base.SnapshotOps)
        vol = backend.create_volume(self.SIZE_GB)
        snap = backend.create_snapshot(vol)
        backend.driver.delete_snapshot(snap)
        assert not backend.inspector.exists(snap)
        backend.driver.delete_snapshot(snap)
        assert backend.inspector.exists(vol)

    # -- CloneOps ----------------------------------------------------------

    def test_clone_has_same_bytes_and_is_independent(self, backend):
        self.require(backend.driver, base.CloneOps)
        head, tail, later = pattern('c-head'), pattern('c-tail'), pattern('c-later')
        src = backend.create_volume(self.SIZE_GB)
        backend.inspector.write(src, 0, head)
        backend.inspector.write(src, self.end_offset(self.SIZE_GB, tail), tail)

        clone = backend.clone(src, self.SIZE_GB)
        ins = backend.inspector
        assert ins.size(clone) == self.SIZE_GB * GiB
        assert ins.read(clone, 0, len(head)) == head
        assert ins.read(clone, self.end_offset(self.SIZE_GB, tail), len(tail)) == tail

        ins.write(src, 0, later)
        assert ins.read(clone, 0, len(head)) == head

    def test_clone_can_be_larger(self, backend):
        self.require(backend.driver, base.CloneOps)
        data = pattern('c-grow')
        src = backend.create_volume(self.SIZE_GB)
        backend.inspector.write(src, 0, data)
        clone = backend.clone(src, self.SIZE_GB + 1)
        assert backend.inspector.size(clone) == (self.SIZE_GB + 1) * GiB
        assert backend.inspector.read(clone, 0, len(data)) == data

    def test_clone_smaller_is_refused(self, backend):
        self.require(backend.driver, base.CloneOps)
        src = backend.create_volume(self.SIZE_GB + 1)
        small = backend.new_volume(self.SIZE_GB)
        with pytest.raises(exception.InvalidVolume):
            backend.driver.create_cloned_volume(small, src)
        assert not backend.inspector.exists(small)

    # -- ImageOps ------------------------------------------------------------

    def test_image_to_volume_replaces_the_old_bytes(self, backend):
        self.require(backend.driver, base.ImageOps)
        vol = backend.create_volume(self.SIZE_GB)
        old = pattern('old', 256 * 1024)
        backend.inspector.write(vol, 0, old)
        backend.inspector.write(vol, self.end_offset(self.SIZE_GB, old), old)
        # Data, a zero run longer than a chunk (skipped, must read as zeros), data.
        head, tail = pattern('img-head', 100 * 1024), pattern('img-tail', 5000)
        gap = 5 * 1024 * 1024
        image = head + bytes(gap) + tail
        chunks = [image[i:i + 65536] for i in range(0, len(image), 65536)]
        backend.driver.copy_image_to_volume(None, vol, iter(chunks), len(image))
        ins = backend.inspector
        assert ins.size(vol) == self.SIZE_GB * GiB
        assert ins.read(vol, 0, len(image)) == image
        assert ins.read(vol, len(image), 4096) == bytes(4096)
        assert ins.read(vol, self.end_offset(self.SIZE_GB, old), len(old)) == bytes(len(old))
        # Redone after a crash: the same bytes.
        backend.driver.copy_image_to_volume(None, vol, iter([image]), len(image))
        assert ins.read(vol, 0, len(image)) == image

    def test_image_shorter_than_its_record_fails(self, backend):
        self.require(backend.driver, base.ImageOps)
        vol = backend.create_volume(self.SIZE_GB)
        with pytest.raises(exception.VolumeBackendAPIException):
            backend.driver.copy_image_to_volume(None, vol, iter([b'x' * 1000]), 2000)

    def test_volume_to_image_streams_every_byte(self, backend):
        self.require(backend.driver, base.ImageOps)
        vol = backend.create_volume(self.SIZE_GB)
        head, tail = pattern('up-head'), pattern('up-tail')
        backend.inspector.write(vol, 0, head)
        backend.inspector.write(vol, self.end_offset(self.SIZE_GB, tail), tail)
        total, first, last = 0, b'', b''
        for chunk in backend.driver.copy_volume_to_image(None, vol):
            if total < len(head):
                first += chunk[:len(head) - total]
            total += len(chunk)
            last = (last + chunk)[-len(tail):]
        assert total == self.SIZE_GB * GiB
        assert first == head and last == tail
