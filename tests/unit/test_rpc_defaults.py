"""blockstore's defaults of oslo.messaging options: a RabbitMQ prefetch of one message.

With the library's unlimited prefetch, a server that stops drops the deliveries
the broker had already pushed to it (the upgrade drill lost about one cast in
ten sent while a service stopped; /work/wt/brief NOTE-upgrade-rpc-stop-loses-messages).
"""

from oslo_config import cfg

from blockstore.common import rpc


def _conf(text=None, tmp_path=None):
    conf = cfg.ConfigOpts()
    files = []
    if text is not None:
        path = tmp_path / 'rabbit.conf'
        path.write_text(text)
        files = ['--config-file', str(path)]
    conf(files, project='blockstore-test', default_config_files=[])
    return conf


def test_rabbit_prefetch_defaults_to_one():
    conf = _conf()
    rpc.set_messaging_defaults(conf)
    assert conf.oslo_messaging_rabbit.rabbit_qos_prefetch_count == 1


def test_an_operators_prefetch_wins(tmp_path):
    conf = _conf('[oslo_messaging_rabbit]\nrabbit_qos_prefetch_count = 10\n', tmp_path)
    rpc.set_messaging_defaults(conf)
    assert conf.oslo_messaging_rabbit.rabbit_qos_prefetch_count == 10


def test_the_driver_registering_its_options_keeps_the_default():
    """oslo.messaging registers the same options when it makes the transport."""
    from oslo_messaging import opts as messaging_opts
    conf = _conf()
    rpc.set_messaging_defaults(conf)
    for group, opts in messaging_opts.list_opts():
        if group == 'oslo_messaging_rabbit':
            conf.register_opts(opts, group=group)   # no DuplicateOptError
    assert conf.oslo_messaging_rabbit.rabbit_qos_prefetch_count == 1
