"""Errors that carry an HTTP status, rendered by the API in Cinder's error format.

``{"badRequest": {"code": 400, "message": "..."}}`` -- the key is derived from
``code`` by the API fault middleware.
"""


class BlockstoreException(Exception):
    msg_fmt = 'An unknown error occurred.'
    code = 500
    safe = False  # a 500's message is hidden from users unless safe

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.msg = str(message)
        super().__init__(self.msg)


class Invalid(BlockstoreException):
    msg_fmt = 'Invalid input: %(reason)s'
    code = 400
    safe = True


class InvalidInput(Invalid):
    msg_fmt = 'Invalid input received: %(reason)s'


class InvalidVolume(Invalid):
    msg_fmt = 'Invalid volume: %(reason)s'


class InvalidSnapshot(Invalid):
    msg_fmt = 'Invalid snapshot: %(reason)s'


class InvalidBackup(Invalid):
    msg_fmt = 'Invalid backup: %(reason)s'


class InvalidVolumeType(Invalid):
    msg_fmt = 'Invalid volume type: %(reason)s'


class VersionNotFound(Invalid):
    msg_fmt = 'Version %(version)s is not supported by the API. Minimum is %(min)s and maximum is %(max)s.'
    code = 406


class NotAuthorized(BlockstoreException):
    msg_fmt = 'Not authorized.'
    code = 403
    safe = True


class PolicyNotAuthorized(NotAuthorized):
    msg_fmt = "Policy doesn't allow %(action)s to be performed."


class Unauthenticated(BlockstoreException):
    msg_fmt = 'Authentication required.'
    code = 401
    safe = True


class NotFound(BlockstoreException):
    msg_fmt = 'Resource could not be found.'
    code = 404
    safe = True


class VolumeNotFound(NotFound):
    msg_fmt = 'Volume %(volume_id)s could not be found.'


class SnapshotNotFound(NotFound):
    msg_fmt = 'Snapshot %(snapshot_id)s could not be found.'


class BackupNotFound(NotFound):
    msg_fmt = 'Backup %(backup_id)s could not be found.'


class VolumeTypeNotFound(NotFound):
    msg_fmt = 'Volume type %(volume_type_id)s could not be found.'


class VolumeTypeNotFoundByName(VolumeTypeNotFound):
    msg_fmt = 'Volume type with name %(volume_type_name)s could not be found.'


class MarkerNotFound(NotFound):
    msg_fmt = 'Marker %(marker)s could not be found.'


class ServiceNotFound(NotFound):
    msg_fmt = 'Service %(service_id)s could not be found.'


class WorkerNotFound(NotFound):
    msg_fmt = 'Work record could not be found: %(filters)s.'


class Conflict(BlockstoreException):
    msg_fmt = 'Conflict: %(reason)s'
    code = 409
    safe = True


class VolumeTypeExists(Conflict):
    msg_fmt = 'Volume type with name %(name)s already exists.'


class NotAvailable(BlockstoreException):
    """A Cinder feature this deployment cannot serve (no service or back end for it): 501."""
    msg_fmt = '%(what)s are not available: %(reason)s'
    code = 501
    safe = True


class OverQuota(BlockstoreException):
    msg_fmt = 'Quota exceeded for resources: %(overs)s'
    code = 413
    safe = True


class VolumeSizeExceedsLimit(Invalid):
    msg_fmt = 'Requested volume size %(size)dG is larger than maximum allowed limit %(limit)dG.'


class NoValidBackend(BlockstoreException):
    msg_fmt = 'No valid backend was found. %(reason)s'
    code = 500


class VolumeBackendAPIException(BlockstoreException):
    msg_fmt = 'Bad or unexpected response from the storage volume backend API: %(data)s'


class DriverNotInitialized(BlockstoreException):
    msg_fmt = 'Volume driver not ready.'


class NotClusterable(BlockstoreException):
    msg_fmt = ('Backend %(backend)s cannot be part of cluster %(cluster)s: its driver '
               '%(driver)s does not declare that several nodes may share its storage '
               '(%(reason)s). Remove [DEFAULT] cluster or use a clusterable driver.')


class ServiceTooOld(BlockstoreException):
    msg_fmt = 'Service is too old to fulfil this request: %(reason)s'
    code = 400
    safe = True


class MessagingTimeout(BlockstoreException):
    msg_fmt = 'Timed out waiting for a reply from %(topic)s.'


class ProcessExecutionError(VolumeBackendAPIException):
    """A backend command exited non-zero, timed out or could not be started.

    Attributes: ``cmd`` (the command line, secrets masked), ``exit_code``
    (None when it timed out or never ran), ``stdout`` and ``stderr`` (secrets
    masked), ``timed_out``.
    """

    msg_fmt = 'Command failed: %(cmd)s; exit code %(exit_code)s; stderr: %(stderr)r'

    def __init__(self, cmd='', exit_code=None, stdout='', stderr='', description=None,
                 timed_out=False):
        self.cmd = cmd
        self.exit_code = exit_code
        self.stdout = stdout or ''
        self.stderr = stderr or ''
        self.timed_out = timed_out
        self.description = description
        message = None
        if description:
            message = 'Command failed: %s; %s; stderr: %r' % (cmd, description, self.stderr)
        super().__init__(message, cmd=cmd, exit_code=exit_code, stderr=self.stderr)


# -- operations and quotas ---------------------------------------------------------------

class QuotaError(BlockstoreException):
    """Over a quota: 413 ``overLimit`` with Retry-After, worded as Cinder's API words it.

    Cinder's fault middleware prefixes the message of these errors with the
    exception's class name ("VolumeLimitExceeded: Maximum number of ...");
    ``wire_name`` is that name where ours differs.
    """
    msg_fmt = 'Quota exceeded: code=%(code)s'
    code = 413
    safe = True
    wire_name = None

    def __init__(self, message=None, **kwargs):
        super().__init__(message, **kwargs)
        self.msg = '%s: %s' % (self.wire_name or type(self).__name__, self.msg)
        self.args = (self.msg,)
        self.headers = {'Retry-After': '0'}


class VolumeLimitExceeded(QuotaError):
    msg_fmt = "Maximum number of volumes allowed (%(allowed)d) exceeded for quota '%(name)s'."


class SnapshotLimitExceeded(QuotaError):
    msg_fmt = 'Maximum number of snapshots allowed (%(allowed)d) exceeded'


class BackupLimitExceeded(QuotaError):
    msg_fmt = 'Maximum number of backups allowed (%(allowed)d) exceeded'


class VolumeBackupSizeExceedsAvailableQuota(QuotaError):
    msg_fmt = ('Requested backup exceeds allowed Backup gigabytes quota. Requested '
               '%(requested)sG, quota is %(quota)sG and %(consumed)sG has been consumed.')


class VolumeSizeExceedsAvailableQuota(QuotaError):
    msg_fmt = ('Requested volume or snapshot exceeds allowed %(name)s quota. Requested '
               '%(requested)sG, quota is %(quota)sG and %(consumed)sG has been consumed.')


class VolumeSizeExceedsQuotaLimit(QuotaError):
    """per_volume_gigabytes: Cinder calls it VolumeSizeExceedsLimit (a name taken here)."""
    msg_fmt = 'Requested volume size %(size)dG is larger than maximum allowed limit %(limit)dG.'
    wire_name = 'VolumeSizeExceedsLimit'


class QuotaLimitTooLow(Invalid):
    msg_fmt = ('Quota %(key)s limit must be equal or greater than existing resources. '
               'Current usage is %(usage)s and the requested limit is %(limit)s.')


class ClusterNotFound(NotFound):
    msg_fmt = 'Cluster %(id)s could not be found.'


class MessageNotFound(NotFound):
    msg_fmt = 'Message %(message_id)s could not be found.'


class HostNotFound(NotFound):
    msg_fmt = 'Host %(host)s could not be found.'


class BackupServiceUnavailable(BlockstoreException):
    """No live, enabled backup service can take the request.

    ``retry_after`` (seconds): one is only briefly down (restarting), so the
    answer carries Retry-After and a client may send the request again.
    """
    msg_fmt = 'Service %(service)s could not be found: %(reason)s'
    code = 503
    safe = True

    def __init__(self, message=None, retry_after=None, **kwargs):
        super().__init__(message, **kwargs)
        if retry_after is not None:
            self.headers = {'Retry-After': str(retry_after)}
