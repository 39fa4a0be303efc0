"""Small helpers shared across services."""


def backend_of(host):
    """'node@backend#pool' -> 'node@backend' (the volume service's RPC server name)."""
    if host is None:
        return None
    return host.partition('#')[0]


def pool_of(host):
    """'node@backend#pool' -> 'pool' (None without a pool part)."""
    if host is None or '#' not in host:
        return None
    return host.partition('#')[2]
