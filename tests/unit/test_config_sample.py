"""The committed sample config is what oslo-config-generator produces now."""

import difflib
import os

from oslo_config import cfg
from oslo_config import generator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR_CONF = os.path.join(ROOT, 'etc', 'blockstore', 'blockstore-config-generator.conf')
SAMPLE = os.path.join(ROOT, 'etc', 'blockstore', 'blockstore.conf.sample')


def generate(output_file):
    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(['--config-file', GENERATOR_CONF, '--output-file', str(output_file)],
         project='blockstore-config-generator', default_config_files=[])
    generator.generate(conf)


def test_sample_config_is_current(tmp_path):
    fresh = tmp_path / 'blockstore.conf.sample'
    generate(fresh)
    with open(SAMPLE) as f:
        committed = f.read().splitlines(keepends=True)
    generated = fresh.read_text().splitlines(keepends=True)
    if committed != generated:
        diff = ''.join(difflib.unified_diff(committed, generated,
                                            'etc/blockstore/blockstore.conf.sample (committed)',
                                            'generated now', n=2))
        raise AssertionError(
            'etc/blockstore/blockstore.conf.sample is out of date: run `tox -e genconfig` '
            '(or `.venv/bin/oslo-config-generator --config-file '
            'etc/blockstore/blockstore-config-generator.conf`) and commit the result.\n'
            + diff[:6000])


def test_sample_does_not_leak_this_machine(tmp_path):
    with open(SAMPLE) as f:
        text = f.read()
    assert '#host = <hostname>' in text
    assert '#state_path = ~/.local/share/blockstore' in text
    assert os.path.expanduser('~') + '/' not in text
