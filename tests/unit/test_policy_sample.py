"""The committed policy sample is what oslopolicy-sample-generator produces now."""

import difflib
import os

from oslo_config import cfg
from oslo_policy import generator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR_CONF = os.path.join(ROOT, 'etc', 'blockstore', 'blockstore-policy-generator.conf')
SAMPLE = os.path.join(ROOT, 'etc', 'blockstore', 'policy.yaml.sample')


def generate(output_file):
    generator.generate_sample(['--config-file', GENERATOR_CONF,
                               '--output-file', str(output_file)], conf=cfg.ConfigOpts())


def test_policy_sample_is_current(tmp_path):
    fresh = tmp_path / 'policy.yaml.sample'
    generate(fresh)
    with open(SAMPLE) as f:
        committed = f.read().splitlines(keepends=True)
    generated = fresh.read_text().splitlines(keepends=True)
    if committed != generated:
        diff = ''.join(difflib.unified_diff(committed, generated,
                                            'etc/blockstore/policy.yaml.sample (committed)',
                                            'generated now', n=2))
        raise AssertionError(
            'etc/blockstore/policy.yaml.sample is out of date: run `tox -e genpolicy` '
            '(or `.venv/bin/oslopolicy-sample-generator --config-file '
            'etc/blockstore/blockstore-policy-generator.conf`) and commit the result.\n'
            + diff[:6000])


def test_every_rule_is_documented():
    from blockstore.common import policies
    names = [r.name for r in policies.list_rules()]
    assert len(names) == len(set(names))
    text = open(SAMPLE).read()
    for name in names:
        assert '#"%s":' % name in text
