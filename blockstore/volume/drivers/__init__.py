"""Volume drivers; :func:`load_driver` builds the one configured for a backend."""

import importlib
from importlib import metadata

ENTRY_POINT_GROUP = 'blockstore.volume.drivers'


def _import_class(path):
    """Import ``'pkg.module.Class'`` or ``'pkg.module:Class'``."""
    module_name, sep, attr = path.partition(':')
    if not sep:
        module_name, _, attr = path.rpartition('.')
    if not module_name or not attr:
        raise ValueError('Not a dotted class path: %r' % path)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError('Cannot import volume driver %r: %s' % (path, e)) from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError('Module %s has no volume driver %r' % (module_name, attr)) from None


def driver_class(name_or_path):
    """Resolve a driver class from an entry point name or a dotted class path.

    :raises ValueError: nothing by that name.
    :raises TypeError: the object found is not a VolumeDriver class.
    """
    from blockstore.volume.drivers import base

    if '.' in name_or_path or ':' in name_or_path:
        cls = _import_class(name_or_path)
    else:
        found = metadata.entry_points(group=ENTRY_POINT_GROUP, name=name_or_path)
        if not found:
            raise ValueError('Unknown volume driver %r (entry point group %s)'
                             % (name_or_path, ENTRY_POINT_GROUP))
        cls = next(iter(found)).load()
    if not (isinstance(cls, type) and issubclass(cls, base.VolumeDriver)):
        raise TypeError('%r is not a VolumeDriver class' % (name_or_path,))
    return cls


def load_driver(name_or_path, conf, host):
    """Instantiate the driver ``name_or_path`` for a backend.

    :param name_or_path: entry point name in ``blockstore.volume.drivers``
        (e.g. ``'file'``) or a dotted class path.
    :param conf: the backend's config group.
    :param host: the ``'host@backend'`` string.
    :returns: the driver instance (not yet set up).
    """
    return driver_class(name_or_path)(conf, host)
