"""The driver conformance suite against LVMDriver on a real loop-device VG.

Thick volumes, activation off (no device-mapper on this kernel). The
inspector reads and writes a volume's bytes through its own loop device over
the LV's extents, computed from its own lvs/pvs/vgs calls, so it checks the
driver's data path rather than sharing it. Conformance tests of interfaces
that need device-mapper (snapshots) skip here; the kernel tier runs the
whole suite, thick and thin, in its guest (inside/test_conformance.py).
"""

import os

import pytest

from blockstore.volume.drivers import lvm
from tests.e2e.host import conftest as host
from tests.unit.drivers import conformance


class ExtentInspector(conformance.Inspector):
    """Bytes of LVs through a loop device over their extents in the PV file."""

    def __init__(self, host_vg):
        self.vg = host_vg

    @staticmethod
    def lv_name(obj):
        return lvm.snapshot_lv_name(obj) if obj.name.startswith('snapshot-') else obj.name

    def exists(self, obj):
        return self.vg.lv_exists(self.lv_name(obj))

    def size(self, obj):
        return self.vg.lv_size(self.lv_name(obj))

    def read(self, obj, offset, length):
        with self.vg.lv_loop(self.lv_name(obj)) as dev:
            fd = os.open(dev, os.O_RDONLY)
            try:
                return os.pread(fd, length, offset)
            finally:
                os.close(fd)

    def write(self, obj, offset, data):
        with self.vg.lv_loop(self.lv_name(obj)) as dev:
            fd = os.open(dev, os.O_RDWR)
            try:
                assert os.pwrite(fd, data, offset) == len(data)
                os.fsync(fd)
            finally:
                os.close(fd)


@pytest.fixture
def driver(host_vg):
    return lvm.LVMDriver(host.backend_conf(host_vg), 'e2e@lvm')


@pytest.fixture
def inspector(host_vg):
    return ExtentInspector(host_vg)


class TestLVMConformance(conformance.DriverConformance):

    @pytest.fixture(autouse=True)
    def _device_mapper_features(self, request, driver):
        if 'snapshot' in request.node.name and not driver.device_mapper:
            pytest.skip('LVM snapshots need the kernel\'s device-mapper (dm-snapshot / '
                        'dm-thin-pool), which this host lacks; the kernel tier runs this '
                        'suite, thick and thin, with device-mapper '
                        '(tests/e2e/kernel/inside/test_conformance.py)')
