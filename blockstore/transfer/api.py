"""Volume transfers: offer a volume to another project, which accepts it with a key.

Creating a transfer claims the volume ('awaiting-transfer') and inserts the
transfer in one transaction; accepting moves the volume (and, unless the
transfer says ``no_snapshots``, its snapshots) to the accepting project and
closes the transfer, all or nothing, under the accepting project's quota lock:
over its quota (volumes, gigabytes, snapshots, per type) nothing moves and the
413 is Cinder's. The auth key is shown once, at create;
only a salted PBKDF2 hash of it is stored.
"""

import hashlib
import hmac
import secrets

from blockstore.common import exception
from blockstore.common import quota
from blockstore.db import api as db
from blockstore.db import models
from blockstore.db import transfers as db_transfers
from blockstore.objects import states

KEY_BYTES = 8          # 16 hex characters, as Cinder's default volume_transfer_key_length
SALT_BYTES = 16
HASH_ITERATIONS = 20000


class InvalidAuthKey(exception.Invalid):
    msg_fmt = 'Invalid auth key: %(reason)s'


def _hash(salt, auth_key):
    return hashlib.pbkdf2_hmac('sha256', auth_key.encode('utf-8'), salt.encode('ascii'),
                               HASH_ITERATIONS).hex()


def _scope(ctx, all_tenants=False):
    if ctx.is_admin and (all_tenants or ctx.project_id is None):
        return None
    return ctx.project_id


class API:
    def get(self, ctx, transfer_id):
        """A live transfer of the caller's project (any for admins); 404 otherwise."""
        return db_transfers.get(ctx, transfer_id, None if ctx.is_admin else ctx.project_id)

    def get_all(self, ctx, filters=None, all_tenants=False, **paging):
        return db_transfers.get_all(ctx, project_id=_scope(ctx, all_tenants),
                                    filters=filters, **paging)

    def create(self, ctx, volume, name=None, no_snapshots=False, allow_encrypted=False):
        """Offer ``volume``; returns (transfer row, auth key)."""
        if volume.encryption_key_id is not None and not allow_encrypted:
            raise exception.InvalidVolume(
                reason='transferring encrypted volumes needs microversion 3.70')
        project = None if ctx.is_admin else ctx.project_id
        auth_key = secrets.token_hex(KEY_BYTES)
        salt = secrets.token_hex(SALT_BYTES)
        values = {'id': db.new_uuid(), 'volume_id': volume.id, 'display_name': name,
                  'salt': salt, 'crypt_hash': _hash(salt, auth_key),
                  'no_snapshots': bool(no_snapshots), 'source_project_id': volume.project_id}

        def claim():
            if not states.transition(ctx, 'volume', volume.id, 'transfer', project_id=project):
                return False
            if not no_snapshots:
                busy = [s for s in db.snapshot_get_all(ctx, filters={'volume_id': volume.id})
                        if s.status != states.AVAILABLE]
                if busy:   # raised inside the transaction: the claim is rolled back
                    raise exception.InvalidSnapshot(
                        reason='snapshot %s status must be available, but is %s'
                        % (busy[0].id, busy[0].status))
            return True

        row = db_transfers.create(ctx, values, claim)
        if row is None:
            states.transition_or_raise(ctx, 'volume', volume.id, 'transfer', project_id=project)
            raise exception.InvalidVolume(reason='volume %s changed during the request'
                                          % volume.id)
        return row, auth_key

    def accept(self, ctx, transfer_id, auth_key):
        """Take the volume into the caller's project; returns the closed transfer row."""
        try:
            transfer = db_transfers.get(ctx, transfer_id)
        except exception.NotFound:
            raise exception.NotFound('Transfer %s could not be found.' % transfer_id)
        if not hmac.compare_digest(_hash(transfer.salt, auth_key), transfer.crypt_hash):
            raise InvalidAuthKey(reason='Attempt to transfer %s with invalid auth key.'
                                 % transfer_id)

        def claim():
            return states.transition(ctx, 'volume', transfer.volume_id, 'transfer_accept',
                                     {'project_id': ctx.project_id, 'user_id': ctx.user_id})

        # What the recipient's quota must take: the volume and, unless the transfer
        # leaves them behind, its snapshots (none can be added while it awaits transfer).
        volume = db.volume_get(ctx, transfer.volume_id)
        snapshots = [] if transfer.no_snapshots else db.snapshot_get_all(
            ctx, filters={'volume_id': transfer.volume_id})

        def move():
            return db_transfers.accept(ctx, transfer, claim, ctx.project_id, ctx.user_id)

        if not quota.move_within_quota(ctx, ctx.project_id, [volume], snapshots, move):
            try:
                db_transfers.get(ctx, transfer_id)
            except exception.NotFound:
                raise exception.NotFound('Transfer %s could not be found.' % transfer_id)
            states.transition_or_raise(ctx, 'volume', transfer.volume_id, 'transfer_accept')
            raise exception.InvalidVolume(reason='volume %s changed during the request'
                                          % transfer.volume_id)
        with db._reader(ctx) as session:
            return session.get(models.Transfer, transfer.id)

    def delete(self, ctx, transfer_id):
        """Cancel a transfer; the volume is available to its owner again."""
        transfer = self.get(ctx, transfer_id)

        def claim():
            return states.transition(ctx, 'volume', transfer.volume_id, 'transfer_cancel')

        if not db_transfers.destroy(ctx, transfer.id, claim):
            raise exception.NotFound('Transfer %s could not be found.' % transfer_id)
