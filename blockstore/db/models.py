"""SQLAlchemy models: the database schema.

Volumes, snapshots and backups are soft-deleted (``deleted`` flag, ``deleted_at``):
operators audit them and ``blockstore-manage db purge`` removes old rows.
Everything else is deleted outright. Every column a list call filters or
sorts on has an index that starts with the columns that call always sets.
"""

import datetime

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer,
                        String, Text, UniqueConstraint)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import declarative_base, relationship

from blockstore.common.status import DETACHED


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


Base = declarative_base()


class TimestampMixin:
    created_at = Column(DateTime, default=utcnow, nullable=False)
    updated_at = Column(DateTime, onupdate=utcnow)


class SoftDeleteMixin:
    deleted = Column(Boolean, default=False, nullable=False)
    deleted_at = Column(DateTime)


class Service(TimestampMixin, Base):
    __tablename__ = 'services'
    __table_args__ = (
        UniqueConstraint('host', 'binary', name='uniq_services0host0binary'),
        Index('services_binary_idx', 'binary'),
        Index('services_cluster_idx', 'cluster_name'),
    )
    id = Column(Integer, primary_key=True, autoincrement=True)
    uuid = Column(String(36), nullable=False, unique=True)
    host = Column(String(255), nullable=False)
    binary = Column(String(255), nullable=False)
    topic = Column(String(255), nullable=False)
    cluster_name = Column(String(255))
    availability_zone = Column(String(255), nullable=False, default='nova')
    report_count = Column(BigInteger, nullable=False, default=0)
    # Heartbeat time, separate from updated_at so that admin edits do not look alive.
    last_seen_at = Column(DateTime)
    disabled = Column(Boolean, nullable=False, default=False)
    disabled_reason = Column(String(255))
    frozen = Column(Boolean, nullable=False, default=False)
    replication_status = Column(String(36), nullable=False, default='not-capable')
    active_backend_id = Column(String(255))
    rpc_current_version = Column(String(36))
    object_current_version = Column(String(36))
    # The release the service runs ("0.2"); NULL in rows a previous release wrote until the
    # online data migration fills them (0009).
    release_name = Column(String(36))


class VolumeType(TimestampMixin, SoftDeleteMixin, Base):
    """Volume types are soft-deleted: deleted volumes still refer to theirs.

    ``live_name`` is the name while the type exists and NULL once deleted, so
    the unique constraint on it keeps live names unique and lets a deleted
    type's name be used again.
    """
    __tablename__ = 'volume_types'
    id = Column(String(36), primary_key=True)
    name = Column(String(255), nullable=False)
    live_name = Column(String(255), unique=True)
    description = Column(String(255))
    is_public = Column(Boolean, nullable=False, default=True)
    qos_specs_id = Column(String(36))  # QualityOfServiceSpecs.id, if associated
    extra_specs = relationship('VolumeTypeExtraSpec', lazy='selectin',
                               cascade='all, delete-orphan', back_populates='volume_type')


class VolumeTypeExtraSpec(Base):
    __tablename__ = 'volume_type_extra_specs'
    __table_args__ = (UniqueConstraint('volume_type_id', 'key',
                                       name='uniq_type_extra_specs0type0key'),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    volume_type_id = Column(String(36), ForeignKey('volume_types.id', ondelete='CASCADE'),
                            nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(255))
    volume_type = relationship('VolumeType', back_populates='extra_specs')


# -- types, qos, actions, transfers ------------------------------------------

class VolumeTypeProject(TimestampMixin, Base):
    """A project's access to a private volume type (``os-volume-type-access``)."""
    __tablename__ = 'volume_type_projects'
    __table_args__ = (
        UniqueConstraint('volume_type_id', 'project_id', name='uniq_type_projects0type0project'),
        Index('volume_type_projects_project_idx', 'project_id'),
    )
    id = Column(Integer, primary_key=True, autoincrement=True)
    volume_type_id = Column(String(36), ForeignKey('volume_types.id', ondelete='CASCADE'),
                            nullable=False)
    project_id = Column(String(255), nullable=False)


class DefaultVolumeType(TimestampMixin, Base):
    """A project's default volume type (3.62)."""
    __tablename__ = 'default_volume_types'
    __table_args__ = (Index('default_volume_types_type_idx', 'volume_type_id'),)
    project_id = Column(String(255), primary_key=True)
    volume_type_id = Column(String(36), ForeignKey('volume_types.id'), nullable=False)


class VolumeTypeEncryption(TimestampMixin, Base):
    """The encryption of the volumes of one type; ``id`` is Cinder's ``encryption_id``."""
    __tablename__ = 'volume_type_encryption'
    __table_args__ = (UniqueConstraint('volume_type_id', name='uniq_type_encryption0type'),)
    id = Column(String(36), primary_key=True)
    volume_type_id = Column(String(36), ForeignKey('volume_types.id', ondelete='CASCADE'),
                            nullable=False)
    provider = Column(String(255), nullable=False)
    cipher = Column(String(255))
    key_size = Column(Integer)
    control_location = Column(String(255), nullable=False)


class QualityOfServiceSpecs(TimestampMixin, Base):
    """Named QoS specs; volume types refer to one through ``qos_specs_id``."""
    __tablename__ = 'qos_specs'
    __table_args__ = (UniqueConstraint('name', name='uniq_qos_specs0name'),)
    id = Column(String(36), primary_key=True)
    name = Column(String(255), nullable=False)
    consumer = Column(String(255), nullable=False, default='back-end')
    specs = relationship('QualityOfServiceSpecsValue', lazy='selectin',
                         cascade='all, delete-orphan')


class QualityOfServiceSpecsValue(Base):
    __tablename__ = 'qos_specs_values'
    __table_args__ = (UniqueConstraint('qos_specs_id', 'key', name='uniq_qos_specs_values0qos0key'),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    qos_specs_id = Column(String(36), ForeignKey('qos_specs.id', ondelete='CASCADE'),
                          nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(255))


class Transfer(TimestampMixin, SoftDeleteMixin, Base):
    """A volume offered to another project; accepted or cancelled ones are soft-deleted.

    Only a salted hash of the auth key is kept (``salt``, ``crypt_hash``).
    """
    __tablename__ = 'transfers'
    __table_args__ = (
        Index('transfers_source_deleted_created_idx', 'source_project_id', 'deleted',
              'created_at', 'id'),
        Index('transfers_deleted_created_idx', 'deleted', 'created_at', 'id'),
        Index('transfers_volume_idx', 'volume_id'),
    )
    id = Column(String(36), primary_key=True)
    volume_id = Column(String(36), ForeignKey('volumes.id'), nullable=False)
    display_name = Column(String(255))
    salt = Column(String(255), nullable=False)
    crypt_hash = Column(String(255), nullable=False)
    expires_at = Column(DateTime)
    no_snapshots = Column(Boolean, nullable=False, default=False)
    source_project_id = Column(String(255), nullable=False)
    destination_project_id = Column(String(255))
    accepted = Column(Boolean, nullable=False, default=False)


class VolumeGlanceMetadata(TimestampMixin, Base):
    """Image metadata of a volume (``os-set_image_metadata``, ``volume_image_metadata``)."""
    __tablename__ = 'volume_glance_metadata'
    __table_args__ = (UniqueConstraint('volume_id', 'key', name='uniq_glance_metadata0vol0key'),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    volume_id = Column(String(36), ForeignKey('volumes.id', ondelete='CASCADE'), nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(Text)


class Volume(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = 'volumes'
    __table_args__ = (
        # Project listing: WHERE project_id=? AND deleted=? ORDER BY created_at, id
        Index('volumes_project_deleted_created_idx', 'project_id', 'deleted', 'created_at', 'id'),
        # Project listing filtered by status (?status=error among 100k available) or name
        Index('volumes_project_deleted_status_created_idx', 'project_id', 'deleted', 'status',
              'created_at', 'id'),
        Index('volumes_project_deleted_name_created_idx', 'project_id', 'deleted',
              'display_name', 'created_at', 'id'),
        # Admin (all projects) listing
        Index('volumes_deleted_created_idx', 'deleted', 'created_at', 'id'),
        Index('volumes_status_idx', 'status'),
        Index('volumes_host_idx', 'host'),
        Index('volumes_cluster_idx', 'cluster_name'),
        Index('volumes_name_idx', 'display_name'),
        Index('volumes_snapshot_idx', 'snapshot_id'),
        Index('volumes_source_idx', 'source_volid'),
        Index('volumes_type_idx', 'volume_type_id'),
    )
    id = Column(String(36), primary_key=True)
    project_id = Column(String(255), nullable=False)
    user_id = Column(String(255))
    host = Column(String(255))
    cluster_name = Column(String(255))
    availability_zone = Column(String(255))
    size = Column(Integer, nullable=False)
    status = Column(String(255), nullable=False)
    attach_status = Column(String(255), nullable=False, default=DETACHED)
    migration_status = Column(String(255))
    # The volume whose backend object this one uses since a migration (0006).
    _name_id = Column('_name_id', String(36))
    display_name = Column(String(255))
    display_description = Column(String(255))
    provider_location = Column(String(255))
    provider_auth = Column(String(255))
    provider_id = Column(String(255))
    snapshot_id = Column(String(36))
    source_volid = Column(String(36))
    volume_type_id = Column(String(36), ForeignKey('volume_types.id'), nullable=False)
    group_id = Column(String(36))
    bootable = Column(Boolean, nullable=False, default=False)
    multiattach = Column(Boolean, nullable=False, default=False)
    replication_status = Column(String(255))
    encryption_key_id = Column(String(36))
    service_uuid = Column(String(36))
    shared_targets = Column(Boolean)
    use_quota = Column(Boolean, nullable=False, default=True)
    scheduled_at = Column(DateTime)
    launched_at = Column(DateTime)
    terminated_at = Column(DateTime)

    volume_metadata = relationship('VolumeMetadata', lazy='selectin', cascade='all, delete-orphan')
    volume_admin_metadata = relationship('VolumeAdminMetadata', lazy='selectin',
                                         cascade='all, delete-orphan')
    volume_type = relationship('VolumeType', lazy='selectin')


class VolumeMetadata(Base):
    __tablename__ = 'volume_metadata'
    __table_args__ = (UniqueConstraint('volume_id', 'key', name='uniq_volume_metadata0vol0key'),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    volume_id = Column(String(36), ForeignKey('volumes.id', ondelete='CASCADE'), nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(255))


class VolumeAdminMetadata(Base):
    __tablename__ = 'volume_admin_metadata'
    __table_args__ = (UniqueConstraint('volume_id', 'key',
                                       name='uniq_volume_admin_metadata0vol0key'),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    volume_id = Column(String(36), ForeignKey('volumes.id', ondelete='CASCADE'), nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(255))


class VolumeAttachment(TimestampMixin, SoftDeleteMixin, Base):
    """One host's (or instance's) use of a volume: the attachments API and legacy actions.

    ``attach_status`` follows ``objects.states.ATTACHMENT``; the volume's
    status and attach_status are derived from its live attachments in the
    same transaction as every change of them. Soft-deleted (``detached``) so
    operators can audit who had a volume; ``db purge`` removes old rows.
    ``connector`` and ``connection_info`` are JSON; connection_info holds the
    CHAP secret and is shown only to the attachment's owner.
    """
    __tablename__ = 'volume_attachment'
    __table_args__ = (
        Index('attachment_volume_deleted_idx', 'volume_id', 'deleted'),
        Index('attachment_project_deleted_created_idx', 'project_id', 'deleted',
              'created_at', 'id'),
        Index('attachment_deleted_created_idx', 'deleted', 'created_at', 'id'),
        Index('attachment_host_idx', 'attached_host'),
        Index('attachment_instance_idx', 'instance_uuid'),
    )
    id = Column(String(36), primary_key=True)
    volume_id = Column(String(36), ForeignKey('volumes.id'), nullable=False)
    project_id = Column(String(255), nullable=False)
    user_id = Column(String(255))
    instance_uuid = Column(String(36))
    attached_host = Column(String(255))
    mountpoint = Column(String(255))
    attach_time = Column(DateTime)
    detach_time = Column(DateTime)
    attach_mode = Column(String(36))
    attach_status = Column(String(255), nullable=False)
    connector = Column(Text)
    connection_info = Column(Text)
    # Hosts given access with the legacy os-initialize_connection while the
    # attachment was already connected (Nova's legacy live migration): a JSON
    # list of connectors that keep the export alive until terminated.
    extra_connectors = Column(Text)
    # Created by a request carrying the compute service's role: only that role
    # may delete it while it is connected (Cinder's LP #2004555).
    service_created = Column(Boolean, nullable=False, default=False)


class Snapshot(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = 'snapshots'
    __table_args__ = (
        Index('snapshots_project_deleted_created_idx', 'project_id', 'deleted', 'created_at', 'id'),
        Index('snapshots_deleted_created_idx', 'deleted', 'created_at', 'id'),
        Index('snapshots_volume_deleted_idx', 'volume_id', 'deleted'),
        Index('snapshots_status_idx', 'status'),
    )
    id = Column(String(36), primary_key=True)
    volume_id = Column(String(36), ForeignKey('volumes.id'), nullable=False)
    project_id = Column(String(255), nullable=False)
    user_id = Column(String(255))
    status = Column(String(255), nullable=False)
    progress = Column(String(255))
    volume_size = Column(Integer, nullable=False)
    display_name = Column(String(255))
    display_description = Column(String(255))
    provider_location = Column(String(255))
    provider_id = Column(String(255))
    provider_auth = Column(String(255))
    volume_type_id = Column(String(36), ForeignKey('volume_types.id'), nullable=False)
    group_snapshot_id = Column(String(36))
    use_quota = Column(Boolean, nullable=False, default=True)

    snapshot_metadata = relationship('SnapshotMetadata', lazy='selectin',
                                     cascade='all, delete-orphan')


class SnapshotMetadata(Base):
    __tablename__ = 'snapshot_metadata'
    __table_args__ = (UniqueConstraint('snapshot_id', 'key',
                                       name='uniq_snapshot_metadata0snap0key'),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    snapshot_id = Column(String(36), ForeignKey('snapshots.id', ondelete='CASCADE'),
                         nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(255))


class Backup(TimestampMixin, SoftDeleteMixin, Base):
    """A backup of a volume (or of one of its snapshots) in a backup store (Cinder's columns).

    ``volume_id`` is no foreign key: a backup outlives its volume (it may be
    restored once the volume is gone). ``service`` is the store's name
    (posix, swift), ``service_metadata`` the prefix of its objects there;
    ``host`` the blockstore-backup service that owns it (NULL until picked).
    ``num_dependent_backups`` is kept 0: the live children (``parent_id``)
    are counted when read. ``progress`` (percent), ``bytes_done`` and
    ``bytes_read`` (what reading the source cost) are ours.
    """
    __tablename__ = 'backups'
    __table_args__ = (
        # Project listing: WHERE project_id=? AND deleted=? ORDER BY created_at, id
        Index('backups_project_deleted_created_idx', 'project_id', 'deleted', 'created_at', 'id'),
        # Admin (all projects) listing
        Index('backups_deleted_created_idx', 'deleted', 'created_at', 'id'),
        Index('backups_volume_deleted_idx', 'volume_id', 'deleted'),
        Index('backups_parent_idx', 'parent_id'),
        Index('backups_snapshot_idx', 'snapshot_id'),
        Index('backups_host_idx', 'host'),
    )
    id = Column(String(36), primary_key=True)
    volume_id = Column(String(36), nullable=False)
    user_id = Column(String(255))
    project_id = Column(String(255), nullable=False)
    host = Column(String(255))
    availability_zone = Column(String(255))
    display_name = Column(String(255))
    display_description = Column(String(255))
    container = Column(String(255))
    status = Column(String(255), nullable=False)
    fail_reason = Column(String(255))
    service_metadata = Column(Text)
    service = Column(String(255))
    size = Column(Integer, nullable=False, default=0)
    object_count = Column(Integer, nullable=False, default=0)
    parent_id = Column(String(36))
    temp_volume_id = Column(String(36))
    temp_snapshot_id = Column(String(36))
    snapshot_id = Column(String(36))
    data_timestamp = Column(DateTime)
    restore_volume_id = Column(String(36))
    encryption_key_id = Column(String(36))
    num_dependent_backups = Column(Integer, nullable=False, default=0)
    progress = Column(Integer)
    bytes_done = Column(BigInteger, nullable=False, default=0)
    bytes_read = Column(BigInteger, nullable=False, default=0)

    backup_metadata = relationship('BackupMetadata', lazy='selectin',
                                   cascade='all, delete-orphan')


class BackupMetadata(Base):
    """A backup's metadata (3.43), shaped as volume_metadata."""
    __tablename__ = 'backup_metadata'
    __table_args__ = (UniqueConstraint('backup_id', 'key', name='uniq_backup_metadata0backup0key'),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    backup_id = Column(String(36), ForeignKey('backups.id', ondelete='CASCADE'), nullable=False)
    key = Column(String(255), nullable=False)
    value = Column(String(255))


class Worker(TimestampMixin, Base):
    """A claimable record of long work in progress on one resource.

    Written by the service layer before the cast that starts the work, cleared by
    the manager when the work ends. ``service_id`` is the service doing the work;
    ``race_preventer`` increments on every claim so two cleaners cannot both win.
    """
    __tablename__ = 'workers'
    __table_args__ = (
        UniqueConstraint('resource_type', 'resource_id', name='uniq_worker0type0id'),
        Index('workers_service_idx', 'service_id'),
    )
    id = Column(Integer, primary_key=True, autoincrement=True)
    resource_type = Column(String(40), nullable=False)
    resource_id = Column(String(36), nullable=False)
    operation = Column(String(40), nullable=False)
    status = Column(String(255), nullable=False)
    service_id = Column(Integer, ForeignKey('services.id', ondelete='SET NULL'))
    race_preventer = Column(Integer, nullable=False, default=0)
    # JSON arguments needed to redo the work (e.g. an extend's new size).
    payload = Column(Text)


class Message(TimestampMixin, Base):
    """A user-facing message about an asynchronous failure (Cinder 3.3)."""
    __tablename__ = 'messages'
    __table_args__ = (
        Index('messages_project_created_idx', 'project_id', 'created_at'),
        Index('messages_resource_idx', 'resource_uuid'),
        Index('messages_expires_idx', 'expires_at'),
    )
    id = Column(String(36), primary_key=True)
    project_id = Column(String(255), nullable=False)
    request_id = Column(String(255))
    resource_type = Column(String(255))
    resource_uuid = Column(String(36))
    event_id = Column(String(255), nullable=False)
    message_level = Column(String(255), nullable=False)
    detail = Column(Text)
    expires_at = Column(DateTime)


# -- operations and quotas ---------------------------------------------------------------

class Quota(TimestampMixin, Base):
    """A project's limit of one resource (``volumes``, ``gigabytes_<type>``...); -1 = none."""
    __tablename__ = 'quotas'
    __table_args__ = (UniqueConstraint('project_id', 'resource',
                                       name='uniq_quotas0project0resource'),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    project_id = Column(String(255), nullable=False)
    resource = Column(String(300), nullable=False)
    hard_limit = Column(Integer, nullable=False)


class QuotaClass(TimestampMixin, Base):
    """A named set of limits; the ``default`` class overrides the configured defaults."""
    __tablename__ = 'quota_classes'
    __table_args__ = (UniqueConstraint('class_name', 'resource',
                                       name='uniq_quota_classes0class0resource'),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    class_name = Column(String(255), nullable=False)
    resource = Column(String(300), nullable=False)
    hard_limit = Column(Integer, nullable=False)


class QuotaLock(Base):
    """One row per project: quota checks of a project serialise on it.

    Usage is counted from the resources, so nothing is stored here but the
    lock itself (an UPDATE of the row holds it until the transaction ends).
    """
    __tablename__ = 'quota_locks'
    project_id = Column(String(255), primary_key=True)
    locked_at = Column(DateTime)


# Quota usage is counted per project and type; these indexes cover the counts.
Index('volumes_quota_idx', Volume.project_id, Volume.deleted, Volume.use_quota,
      Volume.volume_type_id, Volume.size)
Index('snapshots_quota_idx', Snapshot.project_id, Snapshot.deleted, Snapshot.use_quota,
      Snapshot.volume_type_id, Snapshot.volume_size)
Index('backups_quota_idx', Backup.project_id, Backup.deleted, Backup.size)


# Keys are printable ASCII (validated by the service layer), kept case-sensitive.
KEY_TYPE = String(255).with_variant(
    mysql.VARCHAR(255, charset='ascii', collation='ascii_bin'), 'mysql', 'mariadb')


class IdempotencyKey(Base):
    """A client's idempotency key of one create (``Idempotency-Key`` / ``client_token``).

    Inserted in the same transaction as the resource it names, so the unique
    constraint on (project_id, resource_type, key) decides which of several
    concurrent identical creates makes the resource; the others find this row
    and answer with ``resource_id``. ``request_fingerprint`` (SHA-256 of the
    parsed request) tells a retry from a different request reusing the key.
    ``completed_at`` is NULL while the first request is still deciding (quota,
    its sources); repeats wait for it. See blockstore/db/idempotency.py.
    """
    __tablename__ = 'idempotency_keys'
    __table_args__ = (
        UniqueConstraint('project_id', 'resource_type', 'key',
                         name='uniq_idempotency_keys0project0type0key'),
        Index('idempotency_keys_resource_idx', 'resource_type', 'resource_id'),
        Index('idempotency_keys_created_idx', 'created_at'),
    )
    id = Column(Integer, primary_key=True, autoincrement=True)
    project_id = Column(String(255), nullable=False)
    resource_type = Column(String(40), nullable=False)
    # Compared byte for byte on every database (MariaDB's default collation
    # would make 'Key' and 'key' one key).
    key = Column(KEY_TYPE, nullable=False)
    resource_id = Column(String(36), nullable=False)
    request_fingerprint = Column(String(64), nullable=False)
    created_at = Column(DateTime, default=utcnow, nullable=False)
    completed_at = Column(DateTime)
