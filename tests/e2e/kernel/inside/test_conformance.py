"""The driver conformance suite against LVMDriver, thick and thin, with device-mapper.

The host runs the same suite with activation off and skips what needs
device-mapper (snapshots, thin); here every declared operation runs on a
real kernel: LVs are active and the inspector reads and writes
``/dev/VG/LV`` with O_DIRECT (no page cache shared with the driver's I/O),
finding LVs with its own ``lvs`` calls.
"""

import mmap
import os

import pytest

from blockstore.volume.drivers import lvm
from tests.e2e.kernel.inside import guest
from tests.e2e.kernel.inside.test_lio_lvm import DISK, backend_conf
from tests.unit.drivers import conformance

ALIGN = 4096


class DeviceInspector(conformance.Inspector):
    """Bytes of LVs through their device-mapper devices, O_DIRECT."""

    def __init__(self, vg, env):
        self.vg, self.env = vg, env

    def lvm(self, *argv, check=True):
        return guest.run(*argv, env=self.env, check=check)

    @staticmethod
    def lv_name(obj):
        return lvm.snapshot_lv_name(obj) if obj.name.startswith('snapshot-') else obj.name

    def ref(self, obj):
        return '%s/%s' % (self.vg, self.lv_name(obj))

    def exists(self, obj):
        return self.lvm('lvs', self.ref(obj), check=False).returncode == 0

    def size(self, obj):
        out = self.lvm('lvs', '--noheadings', '--units', 'b', '--nosuffix', '-o', 'lv_size',
                       self.ref(obj)).stdout
        return int(out.strip())

    def device(self, obj):
        path = '/dev/' + self.ref(obj)
        if not os.path.exists(path):
            self.lvm('lvchange', '-ay', '-K', '-y', self.ref(obj))
        return path

    def read(self, obj, offset, length):
        # O_DIRECT reads whole aligned blocks: widen the range, then cut it back.
        start = offset - offset % ALIGN
        end = -(-(offset + length) // ALIGN) * ALIGN
        buf = mmap.mmap(-1, end - start)
        fd = os.open(self.device(obj), os.O_RDONLY | os.O_DIRECT)
        try:
            assert os.preadv(fd, [buf], start) == end - start
            return bytes(buf[offset - start:offset - start + length])
        finally:
            os.close(fd)
            buf.close()

    def write(self, obj, offset, data):
        assert offset % ALIGN == 0 and len(data) % ALIGN == 0
        buf = mmap.mmap(-1, len(data))
        buf.write(data)
        fd = os.open(self.device(obj), os.O_RDWR | os.O_DIRECT)
        try:
            assert os.pwritev(fd, [buf], offset) == len(data)
            os.fsync(fd)
        finally:
            os.close(fd)
            buf.close()


class VG:
    """A VG on the guest's scratch disk for one backend type (class scope)."""

    def __init__(self, lvm_type, tmp):
        self.name = 'bs-kc-%s' % ('thin' if lvm_type == 'thin' else 'thick')
        self.conf = backend_conf(lvm_type, self.name, tmp)
        self.env = {'LVM_SYSTEM_DIR': self.conf.lvm_conf_dir}
        guest.run('pvcreate', '-ff', '-y', DISK, env=self.env)
        guest.run('vgcreate', '-y', self.name, DISK, env=self.env)

    def remove(self):
        guest.run('vgremove', '-f', self.name, env=self.env, check=False)
        guest.run('pvremove', '-ff', '-y', DISK, env=self.env, check=False)


@pytest.fixture(scope='class', params=['default', 'thin'])
def kernel_vg(request, tmp_path_factory, lio_modules):
    vg = VG(request.param, str(tmp_path_factory.mktemp('conformance-%s' % request.param)))
    yield vg
    vg.remove()


@pytest.fixture
def driver(kernel_vg):
    return lvm.LVMDriver(kernel_vg.conf, 'bs-guest@conformance')


@pytest.fixture
def inspector(kernel_vg):
    return DeviceInspector(kernel_vg.name, kernel_vg.env)


class TestLVMConformanceWithDeviceMapper(conformance.DriverConformance):

    SCENARIO = False  # independent tests: one failure does not skip the rest

    def test_device_mapper_in_use(self, backend):
        """Guard: this class proves nothing if the driver fell back to loop devices."""
        assert backend.driver.device_mapper
