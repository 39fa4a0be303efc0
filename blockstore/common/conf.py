"""Configuration options, grouped by the part of the system that reads them.

Every option lives here so that ``oslo-config-generator`` (namespace
``blockstore``) can produce ``etc/blockstore/blockstore.conf.sample``.
Backend sections (``[backend-name]`` listed in ``enabled_backends``) use
``backend_opts``, registered per section by the volume service.
"""

import os
import socket

from oslo_config import cfg
from oslo_db import options as db_options
from oslo_log import log

CONF = cfg.CONF

DEFAULT_STATE_PATH = os.path.join(os.path.expanduser('~'), '.local', 'share', 'blockstore')

core_opts = [
    cfg.StrOpt('host', default=socket.gethostname(), sample_default='<hostname>',
               help='Name of this node; volume services are addressed as host@backend.'),
    cfg.StrOpt('state_path', default=DEFAULT_STATE_PATH,
               sample_default='~/.local/share/blockstore',
               help='Directory for local state: the embedded SQLite database and '
                    'file-backed volumes.'),
    cfg.StrOpt('storage_availability_zone', default='nova',
               help='Availability zone of this node.'),
    cfg.StrOpt('default_availability_zone',
               help='Availability zone for new volumes when the request names none; '
                    'defaults to storage_availability_zone.'),
    cfg.StrOpt('cluster', help='Name of the Active/Active cluster this volume service belongs to.'),
    cfg.IntOpt('report_interval', default=10, min=1,
               help='Seconds between a service\'s heartbeats into the services table.'),
    cfg.IntOpt('service_down_time', default=60, min=1,
               help='Seconds without a heartbeat after which a service is considered down.'),
    cfg.IntOpt('periodic_interval', default=20, min=1,
               help='Seconds between a volume service\'s capability reports.'),
    cfg.StrOpt('default_volume_type', default='__DEFAULT__',
               help='Name of the volume type used when a request names none.'),
    cfg.ListOpt('enabled_backends', default=[],
                help='Backend section names; one volume manager runs per backend.'),
    cfg.StrOpt('volume_topic', default='blockstore-volume', help='RPC topic of volume services.'),
    cfg.StrOpt('backup_topic', default='blockstore-backup', help='RPC topic of backup services.'),
    cfg.StrOpt('scheduler_topic', default='blockstore-scheduler',
               help='RPC topic of scheduler services.'),
    cfg.IntOpt('volume_connection_timeout', default=120, min=1,
               help='Seconds an API waits for a volume service to connect or disconnect a '
                    'host (attachments, os-initialize_connection, os-terminate_connection) '
                    'before answering with an error.'),
    cfg.StrOpt('upgrade_level_release',
               help='Pin RPC and object versions to this release name (e.g. "0.1") during '
                    'a rolling upgrade, instead of the minimum found in the services table.'),
]

api_opts = [
    cfg.HostAddressOpt('osapi_volume_listen', default='127.0.0.1',
                       help='Address the API listens on.'),
    cfg.PortOpt('osapi_volume_listen_port', default=8776, help='Port the API listens on.'),
    cfg.IntOpt('osapi_volume_threads', default=16, min=1,
               help='Worker threads of the API\'s WSGI server.'),
    cfg.StrOpt('auth_strategy', default='noauth', choices=['noauth', 'keystone'],
               help='noauth trusts X-Auth-Token "user:project" (development); keystone '
                    'validates tokens with keystonemiddleware.'),
    cfg.IntOpt('osapi_max_limit', default=1000, min=1,
               help='Largest number of items a list call returns in one response.'),
    cfg.IntOpt('max_volume_size', default=16384, min=1, help='Largest volume size in GiB.'),
    cfg.BoolOpt('enable_force_upload', default=False,
                help='Allow os-volume_upload_image with force on in-use volumes (their data '
                     'may change while it is read), as Cinder\'s option of the same name.'),
    cfg.StrOpt('resource_query_filters_file',
               help='JSON file naming, per resource, the query filters non-admin users may '
                    'use in list calls (format of etc/blockstore/resource_filters.json). '
                    'Unset: the built-in defaults, which that file repeats.'),
]

scheduler_opts = [
    cfg.ListOpt('scheduler_default_filters',
                default=['AvailabilityZoneFilter', 'CapacityFilter', 'CapabilitiesFilter'],
                help='Filters applied to candidate backends, in order.'),
    cfg.ListOpt('scheduler_default_weighers', default=['CapacityWeigher'],
                help='Weighers ordering the backends that pass the filters.'),
    cfg.FloatOpt('capacity_weight_multiplier', default=1.0,
                 help='Positive spreads volumes to the emptiest backend, negative stacks them.'),
    cfg.IntOpt('scheduler_max_attempts', default=3, min=1,
               help='Backends tried for one create before the volume goes to error.'),
]

backend_opts = [
    cfg.StrOpt('volume_driver', default='file',
               help='Driver of this backend: a name from the blockstore.volume.drivers entry '
                    'point group or a dotted class path.'),
    cfg.StrOpt('volume_backend_name', help='Backend name reported to the scheduler and '
                                           'matched by the volume type extra spec.'),
    cfg.StrOpt('file_volumes_dir',
               help='File driver: directory holding the sparse volume files; defaults to '
                    '$state_path/volumes/<backend>.'),
    cfg.IntOpt('file_capacity_gb', default=1000, min=1,
               help='File driver: capacity reported to the scheduler, in GiB.'),
    cfg.FloatOpt('reserved_percentage', default=0, min=0, max=100,
                 help='Percentage of capacity the scheduler keeps free.'),
    cfg.FloatOpt('max_over_subscription_ratio', default=20.0, min=1.0,
                 help='Provisioned capacity allowed per unit of real capacity for thin '
                      'provisioning.'),
    # -- LVM driver (volume_driver = lvm) ------------------------------------
    cfg.StrOpt('volume_group', default='blockstore-volumes',
               help='LVM driver: volume group holding the volumes.'),
    cfg.StrOpt('lvm_type', default='default', choices=['default', 'thin'],
               help='LVM driver: "default" makes thick (linear) LVs; "thin" makes thin LVs '
                    'in the pool <volume_group>-pool (created when missing). Thin needs '
                    'the kernel\'s device-mapper thin-pool target.'),
    cfg.BoolOpt('lvm_activation', default=True,
                help='LVM driver: activate LVs and reach their bytes through /dev/VG/LV. '
                     'Set to False on kernels without device-mapper: LVM then runs with '
                     'activation=0, volumes are allocated contiguously and their bytes are '
                     'reached through a loop device over their extents on the PV. Thin '
                     'volumes and snapshots are unavailable in that mode.'),
    cfg.StrOpt('lvm_conf_dir',
               help='LVM driver: directory holding a private lvm.conf, passed to every LVM '
                    'command as LVM_SYSTEM_DIR (also keeps the metadata archive there). '
                    'Unset: the system configuration.'),
    cfg.StrOpt('lvm_pv_loop_file',
               help='LVM driver, development only: a sparse file attached to a loop device '
                    'and used as the only PV of volume_group, which is created when missing. '
                    'Every LVM command is then restricted to that device (--devices).'),
    cfg.IntOpt('lvm_pv_loop_size_gb', default=10, min=1,
               help='LVM driver: size of lvm_pv_loop_file when it is created, in GiB.'),
    cfg.StrOpt('volume_clear', default='zero', choices=['none', 'zero'],
               help='LVM driver: how a thick volume\'s data is wiped before its space is '
                    'freed (thin volumes are never wiped: the pool zeroes new blocks).'),
    cfg.IntOpt('volume_clear_size', default=0, min=0,
               help='LVM driver: MiB wiped at the start of a volume on delete; 0 wipes it '
                    'all.'),
    cfg.IntOpt('storage_command_timeout', default=300, min=1,
               help='Seconds a storage command (lvm, losetup, tgtadm, ...) may run.'),
    # -- iSCSI target helpers ------------------------------------------------
    cfg.StrOpt('target_helper', default='tgtadm', choices=['tgtadm', 'lioadm'],
               help='iSCSI target implementation: tgtadm (userspace tgtd) or lioadm (the '
                    'kernel LIO target, needs configfs and target_core_mod).'),
    cfg.StrOpt('target_protocol', default='iscsi', choices=['iscsi'],
               help='Protocol volumes are exported with.'),
    cfg.StrOpt('target_ip_address', default='127.0.0.1',
               help='Address of the iSCSI portal told to initiators.'),
    cfg.ListOpt('target_secondary_ip_addresses', default=[],
                help='More portal addresses told to initiators (multipath).'),
    cfg.PortOpt('target_port', default=3260, help='Port of the iSCSI portal.'),
    cfg.StrOpt('target_prefix', default='iqn.2010-10.org.openstack:',
               help='Prefix of target IQNs; the volume name is appended.'),
    cfg.StrOpt('volumes_dir',
               help='Directory of the persistent per-volume target files (tgt-admin '
                    'syntax) from which exports are restored after a tgtd restart; defaults '
                    'to $state_path/targets/<backend>.'),
    cfg.IntOpt('tgt_control_port', min=0, max=32767,
               help='Control port of the tgtd to manage (tgtadm -C); unset: tgtd\'s '
                    'default.'),
    cfg.StrOpt('tgt_bsoflags', default='direct',
               help='tgt backing-store open flags (bsoflags): "direct" makes tgtd bypass '
                    'the page cache of the exported device, "sync", both, or empty.'),
    cfg.BoolOpt('use_chap_auth', default=True,
                help='Protect every export with CHAP credentials generated per volume.'),
]

embedded_opts = [
    cfg.BoolOpt('embedded', default=False,
                help='Set by blockstore-all: every service in one process.'),
]

quota_opts = [
    cfg.IntOpt('quota_volumes', default=10,
               help='Default number of volumes a project may have (-1: unlimited).'),
    cfg.IntOpt('quota_snapshots', default=10,
               help='Default number of snapshots a project may have (-1: unlimited).'),
    cfg.IntOpt('quota_gigabytes', default=1000,
               help='Default total GiB of volumes and snapshots a project may have '
                    '(-1: unlimited).'),
    cfg.IntOpt('quota_backups', default=10,
               help='Default number of backups a project may have (-1: unlimited).'),
    cfg.IntOpt('quota_backup_gigabytes', default=1000,
               help='Default total GiB of backups a project may have (-1: unlimited).'),
    cfg.IntOpt('quota_groups', default=10,
               help='Default number of volume groups a project may have (-1: unlimited).'),
    cfg.IntOpt('per_volume_size_limit', default=-1,
               help='Default largest size of one volume in GiB (per_volume_gigabytes; '
                    '-1: unlimited).'),
    cfg.BoolOpt('no_snapshot_gb_quota', default=False,
                help='Do not count the size of snapshots in the gigabytes quotas.'),
]

MiB = 1024 * 1024

backup_opts = [
    cfg.StrOpt('backup_driver', default='posix', choices=['posix', 'swift'],
               help='Where backups are stored: a POSIX directory (local or a mounted '
                    'share) or OpenStack Swift.'),
    cfg.StrOpt('backup_container', default='backups',
               help='Container (a directory under backup_posix_path, or a Swift '
                    'container) used when a backup request names none.'),
    cfg.StrOpt('backup_posix_path', sample_default='$state_path/backups',
               help='Directory of the POSIX backup store; defaults to '
                    '$state_path/backups.'),
    cfg.IntOpt('backup_chunk_size', default=32 * MiB, min=64 * 1024,
               help='Bytes of volume data per stored object (before compression).'),
    cfg.IntOpt('backup_block_size', default=1 * MiB, min=4096,
               help='Granularity in bytes of the hash map an incremental backup compares '
                    'and of hole detection; must divide backup_chunk_size.'),
    cfg.StrOpt('backup_compression', default='zstd', choices=['zstd', 'zlib', 'none'],
               help='Compression of stored objects.'),
    cfg.IntOpt('backup_workers', min=1, sample_default='<number of CPUs>',
               help='Threads that hash, compress and store chunks in parallel; '
                    'defaults to the number of CPUs.'),
    cfg.IntOpt('backup_max_inflight', min=1, sample_default='2 * backup_workers',
               help='Chunks held in memory at once by one backup or restore; bounds its '
                    'memory to about this many times backup_chunk_size.'),
    cfg.StrOpt('backup_use_export', default='auto', choices=[
                   ('auto', 'an export when the volume\'s node (its host before "@") is '
                            'not this service\'s host, else the local path'),
                   ('always', 'always an export (os-brick connects it)'),
                   ('never', 'always the local path the volume service gives (the backup '
                             'service runs on the volume\'s node or sees its files)')],
               help='How the backup service reaches the volume it backs up or restores: '
                    'the volume service exports it to this service\'s os-brick connector, '
                    'or gives its local path.'),
    cfg.StrOpt('backup_connector_ip', sample_default='127.0.0.1',
               help='IP address of this node in the os-brick connector sent to volume '
                    'services (reading volumes over an export); defaults to 127.0.0.1.'),
    cfg.IntOpt('backup_max_operations', default=4, min=1,
               help='Backups and restores one backup service runs at the same time.'),
    cfg.StrOpt('backup_swift_url',
               help='Swift storage URL (http://host:port/v1/AUTH_account); found through '
                    'authentication when unset.'),
    cfg.StrOpt('backup_swift_auth_url',
               help='Authentication URL of Swift (tempauth: http://host:port/auth/v1.0; '
                    'Keystone: its v3 URL).'),
    cfg.StrOpt('backup_swift_auth_version', default='1', choices=['1', '3'],
               help='Swift authentication: "1" (tempauth/swauth) or "3" (Keystone).'),
    cfg.StrOpt('backup_swift_user', help='Swift user (tempauth: account:user).'),
    cfg.StrOpt('backup_swift_key', secret=True, help='Swift key or password.'),
    cfg.StrOpt('backup_swift_project', help='Keystone project (auth version 3).'),
    cfg.StrOpt('backup_swift_project_domain', default='default',
               help='Keystone project domain (auth version 3).'),
    cfg.StrOpt('backup_swift_user_domain', default='default',
               help='Keystone user domain (auth version 3).'),
    cfg.StrOpt('backup_swift_container',
               help='Swift container for backups; defaults to backup_container.'),
    cfg.IntOpt('backup_swift_retries', default=3, min=0,
               help='Retries of a failed Swift request.'),
    cfg.FloatOpt('backup_swift_timeout', default=60.0, min=0.1,
                 help='Seconds before a Swift request times out.'),
]

coordination_opts = [
    cfg.StrOpt('backend_url', sample_default='file://$state_path/locks',
               help='tooz URL of the distributed lock service: whatever two services '
                    'must not do at once (operations on one volume, a backend\'s '
                    'metadata) takes a lock there. Nodes of one cluster need a shared '
                    'backend (e.g. redis://127.0.0.1:6379); defaults to tooz\'s file '
                    'driver under $state_path/locks (one node only).'),
]

_opts = [
    (None, core_opts + api_opts + scheduler_opts + embedded_opts + quota_opts),
    ('backend_defaults', backend_opts),
    ('backup', backup_opts),
    ('coordination', coordination_opts),
]


def register_opts(conf=CONF):
    for group, opts in _opts:
        conf.register_opts(opts, group=group)
    db_options.set_defaults(conf)


def register_backend_opts(backend, conf=CONF):
    """Register backend options in the section of one enabled backend."""
    conf.register_opts(backend_opts, group=backend)
    return conf[backend]


def set_defaults():
    pass


def list_opts():
    from blockstore.compute import nova   # [nova]: how to reach the compute API
    from blockstore.image import glance   # [glance]: how to reach the image API
    from blockstore.common import idempotency   # Idempotency-Key of creates
    return ([(group, list(opts)) for group, opts in _opts] + nova.list_opts()
            + glance.list_opts() + idempotency.list_opts())


def setup(argv=None, conf=CONF, default_config_files=None, log_name='blockstore',
          cli_tool=False):
    """Parse the command line and config files and set up logging.

    ``cli_tool``: an operator command; logs go to stderr so stdout carries
    only the command's answer.
    """
    register_opts(conf)
    try:
        log.register_options(conf)
    except cfg.ArgsAlreadyParsedError:  # pragma: no cover - re-entry in tests
        pass
    log.set_defaults(default_log_levels=log.get_default_log_levels() + [
        'alembic=WARN', 'cheroot=WARN'])
    if cli_tool:
        conf.set_default('use_stderr', True)
    conf(argv if argv is not None else [], project='blockstore',
         default_config_files=default_config_files)
    log.setup(conf, log_name)
    return conf


register_opts()
