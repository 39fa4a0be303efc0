"""Config of a client of another OpenStack service ([nova], [glance]): our options plus a
keystoneauth1 session and auth plugin, registered and listed the same way for each."""

from keystoneauth1 import loading as ks_loading


def register_opts(conf, group, opts):
    conf.register_opts(opts, group=group)
    ks_loading.register_session_conf_options(conf, group)
    ks_loading.register_auth_conf_options(conf, group)


def list_opts(group, opts):
    """For the sample config: ``opts``, the session's and a password plugin's, once each."""
    found = list(opts)
    found += ks_loading.get_session_conf_options()
    found += ks_loading.get_auth_common_conf_options()
    found += ks_loading.get_auth_plugin_conf_options('password')
    seen, unique = set(), []
    for o in found:
        if o.dest not in seen:
            seen.add(o.dest)
            unique.append(o)
    return [(group, unique)]
