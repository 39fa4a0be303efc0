"""Volume migration (os-migrate_volume), as far as blockstore can honestly go today.

Moving a volume's data between back ends is a later issue. Until then the
service layer does everything that decides whether a migration *could*
start -- the volume's state, the destination -- and refuses with a 400 that
says why: the destination is the volume's own back end, it is not a volume
service that is up and enabled, or (any other case) moving data between back
ends is not supported yet. Nothing is claimed, so nothing changes.
"""

from blockstore.common import exception
from blockstore.common import utils
from blockstore.db import api as db
from blockstore.db import services as services_db
from blockstore.objects import states
from blockstore.ops import services as ops_services


class InvalidHost(exception.Invalid):
    msg_fmt = 'Invalid host: %(reason)s'


class VolumeMigration:
    """Mixed into ``volume.api.API``."""

    def migrate_volume(self, ctx, volume, host=None, cluster=None, force_host_copy=False,
                       lock_volume=False):
        if bool(host) == bool(cluster):
            raise exception.InvalidInput(reason='Exactly one of host and cluster must be '
                                                'given.')
        reasons = []
        if volume.status not in (states.AVAILABLE, states.IN_USE):
            reasons.append('status must be %s or %s, but is %s'
                           % (states.AVAILABLE, states.IN_USE, volume.status))
        reasons.extend(db.unmet_guards(ctx, 'volume', volume.id,
                                       ['no_snapshots', 'not_migrating']))
        if reasons:
            raise exception.InvalidVolume(reason='volume %s cannot be migrated: %s'
                                          % (volume.id, '; '.join(reasons)))
        if host:
            dest = utils.backend_of(host)
            if dest == utils.backend_of(volume.host):
                raise InvalidHost(reason='destination host %s must be different than the '
                                         'current host %s' % (host, utils.backend_of(volume.host)))
            found = services_db.service_get_all(ctx, host=dest,
                                                binary=ops_services.VOLUME_BINARY)
            where = 'host %s' % host
        else:
            if cluster == volume.cluster_name:
                raise InvalidHost(reason='destination cluster %s must be different than the '
                                         'current cluster' % cluster)
            found = services_db.service_get_all(ctx, cluster_name=cluster,
                                                binary=ops_services.VOLUME_BINARY)
            where = 'cluster %s' % cluster
        if not any(ops_services.is_up(s) and not s.disabled for s in found):
            raise InvalidHost(reason='no volume service of %s is up and enabled' % where)
        raise exception.InvalidInput(
            reason='volume %s cannot be migrated to %s: moving a volume between back ends is '
                   'not supported yet' % (volume.id, where))

    def migrate_volume_completion(self, ctx, volume, new_volume, error=False):
        """Only the manager of a migration calls this; none can be in progress yet."""
        if not db.unmet_guards(ctx, 'volume', volume.id, ['not_migrating']):
            raise exception.InvalidVolume(reason='Source volume %s not mid-migration.'
                                          % volume.id)
        raise exception.InvalidVolume(reason='volume %s: migration completion is not '
                                             'supported yet' % volume.id)
