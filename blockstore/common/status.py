"""Every status string blockstore writes or reads, and nothing else.

A leaf module: it imports nothing of ours, so every layer may use it -- the
database primitives (guards written as SQL, column defaults) as well as the
transition tables in ``blockstore.objects.states``, which re-exports these
names (code above the database keeps writing ``states.AVAILABLE``). The
tables say which of these states each resource goes through; a unit test
(tests/unit/test_layers.py) fails on a status literal anywhere else.
"""

# -- volume states, as the Cinder API shows them (snapshots and backups use the shared
# ones: a backup goes through creating, available, deleting, deleted, error,
# error_deleting and restoring -- see objects/states.py BACKUP).
CREATING = 'creating'
AVAILABLE = 'available'
DELETING = 'deleting'
DELETED = 'deleted'
ERROR = 'error'
ERROR_DELETING = 'error_deleting'
EXTENDING = 'extending'
ERROR_EXTENDING = 'error_extending'
IN_USE = 'in-use'
# types, qos, actions, transfers
RETYPING = 'retyping'
REVERTING = 'reverting'
RESTORING = 'restoring'
ERROR_RESTORING = 'error_restoring'
MANAGING = 'managing'
ERROR_MANAGING = 'error_managing'
UNMANAGING = 'unmanaging'
ERROR_UNMANAGING = 'error_unmanaging'
AWAITING_TRANSFER = 'awaiting-transfer'
# Accepted by os-reset_status, as Cinder accepts them; no event leads there.
MAINTENANCE = 'maintenance'
# attach flow: volume states while hosts use it (and attachment states, below).
RESERVED = 'reserved'
ATTACHING = 'attaching'
DETACHING = 'detaching'
# image data: upload to an image, reimage (3.68)
UPLOADING = 'uploading'
DOWNLOADING = 'downloading'
# backups: a volume being read by a backup (backing-up, also a snapshot state, below),
# or written by a restore (restoring-backup; a failed restore leaves error_restoring).
RESTORING_BACKUP = 'restoring-backup'

# -- snapshot states beside the shared ones (accepted by os-reset_status, as Cinder).
UPDATING = 'updating'
# Also a volume state: a volume or snapshot read by a backup.
BACKING_UP = 'backing-up'

# -- attachment states (attachments.attach_status), and a volume's attach_status,
# which is ATTACHED or DETACHED.
ATTACHED = 'attached'
DETACHED = 'detached'
ERROR_ATTACHING = 'error_attaching'
ERROR_DETACHING = 'error_detaching'

# -- volume migration_status (Cinder's column), beside the status. NULL: never migrated.
MIGRATION_STARTING = 'starting'
MIGRATING = 'migrating'
MIGRATION_SUCCESS = 'success'
MIGRATION_ERROR = 'error'
MIGRATION_COMPLETING = 'completing'
# What os-reset_status takes for "no migration" (written as NULL).
MIGRATION_NONE = 'none'
# The new volume a generic migration copies into: 'target:<source id>'.
MIGRATION_TARGET_PREFIX = 'target:'
# A volume with one of these (or none) is not migrating.
MIGRATION_ENDED = (MIGRATION_SUCCESS, MIGRATION_ERROR, MIGRATION_NONE)
