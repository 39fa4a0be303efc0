"""Scheduler filters and weighers over reported pool capabilities."""

import pytest

from blockstore.scheduler.filters import capabilities
from blockstore.scheduler import filters as filter_mod
from blockstore.scheduler import host_state
from blockstore.scheduler import weighers


def pool(name='b1', total=100, free=100, provisioned=0, thin=False, ratio=1.0,
         reserved=0, az='nova', **caps):
    p = dict(pool_name='p', total_capacity_gb=total, free_capacity_gb=free,
             provisioned_capacity_gb=provisioned, thin_provisioning_support=thin,
             thick_provisioning_support=not thin, max_over_subscription_ratio=ratio,
             reserved_percentage=reserved, **caps)
    return host_state.PoolState('node@' + name, p, {'volume_backend_name': name}, az)


def spec(size=1, az=None, extra_specs=None):
    return {'size': size, 'availability_zone': az,
            'volume_type': {'extra_specs': extra_specs or {}}}


CAP = filter_mod.FILTERS['CapacityFilter']()
CAPS = filter_mod.FILTERS['CapabilitiesFilter']()
AZ = filter_mod.FILTERS['AvailabilityZoneFilter']()


def test_capacity_thick():
    assert CAP.passes(pool(free=10), spec(10))
    assert not CAP.passes(pool(free=10), spec(11))
    assert not CAP.passes(pool(total=100, free=10, reserved=5), spec(10))


def test_capacity_thin_over_subscription():
    p = pool(total=10, free=10, provisioned=15, thin=True, ratio=2.0)
    assert CAP.passes(p, spec(5))
    assert not CAP.passes(p, spec(6))


def test_capacity_unknown_passes_none_fails():
    assert CAP.passes(pool(total='unknown', free='unknown'), spec(10 ** 6))
    assert not CAP.passes(pool(total=None, free=None), spec(1))


def test_consume_updates_free_space():
    p = pool(free=10)
    p.consume(4)
    assert p.free_capacity_gb == 6 and p.provisioned_capacity_gb == 4
    assert not CAP.passes(p, spec(7))


def test_availability_zone():
    assert AZ.passes(pool(az='z1'), spec(az='z1'))
    assert not AZ.passes(pool(az='z1'), spec(az='z2'))
    assert AZ.passes(pool(az='z1'), spec())


@pytest.mark.parametrize('value,req,ok', [
    (True, '<is> True', True), (False, '<is> True', False), ('True', '<is> False', False),
    ('gold', 'gold', True), ('gold', 'silver', False),
    (10, '>= 5', True), (4, '>= 5', False), (5, '== 5', True), ('x', '>= 5', False),
    ('ssd', '<or> hdd <or> ssd', True), ('nvme', '<or> hdd <or> ssd', False),
    ('abc', 's== abc', True), ('fast-ssd', '<in> ssd', True),
])
def test_extra_spec_operators(value, req, ok):
    assert capabilities.matches(value, req) is ok


def test_capabilities_filter_backend_name_and_scopes():
    p = pool(name='gold', compression=True)
    assert CAPS.passes(p, spec(extra_specs={'volume_backend_name': 'gold'}))
    assert not CAPS.passes(p, spec(extra_specs={'volume_backend_name': 'silver'}))
    assert CAPS.passes(p, spec(extra_specs={'capabilities:compression': '<is> True'}))
    assert CAPS.passes(p, spec(extra_specs={'qos:iops': '100'}))   # other scope ignored
    assert not CAPS.passes(p, spec(extra_specs={'dedup': '<is> True'}))  # unknown capability
    assert not CAPS.passes(p, spec(extra_specs={'multiattach': '<is> True'}))
    assert CAPS.passes(pool(multiattach=True), spec(extra_specs={'multiattach': '<is> True'}))


def test_capacity_weigher_prefers_most_free(monkeypatch):
    from oslo_config import cfg
    pools = [pool('a', free=10), pool('b', free=50), pool('c', free=30)]
    ordered = weighers.order(pools, spec(), [weighers.WEIGHERS['CapacityWeigher']()])
    assert [p.backend for p in ordered] == ['node@b', 'node@c', 'node@a']
    cfg.CONF.set_override('capacity_weight_multiplier', -1.0)
    try:
        ordered = weighers.order(pools, spec(), [weighers.WEIGHERS['CapacityWeigher']()])
        assert ordered[0].backend == 'node@a'   # stacking
    finally:
        cfg.CONF.clear_override('capacity_weight_multiplier')
