"""The POSIX backup store: objects are files in a directory (local or a mounted share).

Layout: ``<backup_posix_path>/<container>/<name>``; a ``/`` in a name is a
subdirectory. ``backup_posix_path`` defaults to ``$state_path/backups``.

A put writes a temporary file (``.tmp-*``, never listed) in the object's own
directory, fsyncs it, renames it over the name and fsyncs the directory, so a
reader (or a crash) sees the whole old object, the whole new one, or none.
Every call works on its own file descriptors: the store is thread safe.
"""

import errno
import os
import tempfile
import time

from blockstore.backup.drivers import base

_TMP_PREFIX = '.tmp-'
_CHECK_PREFIX = _TMP_PREFIX + 'check-'
# A check's file lives for milliseconds; one older than this was left by a process
# killed during its check (another node's may be younger: it is left alone).
_STALE_CHECK = 60.0


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PosixStore(base.BackupStore):
    name = 'posix'
    thread_safe = True
    #: put() takes any bytes-like object (the chunked pipeline hands raw chunks
    #: as memoryviews of its buffers instead of copying them).
    accepts_buffers = True

    def __init__(self, conf):
        super().__init__(conf)
        self.root = os.path.abspath(conf.backup.backup_posix_path
                                    or os.path.join(conf.state_path, 'backups'))

    # -- paths ------------------------------------------------------------

    @staticmethod
    def _check_name(kind, value, allow_slash):
        parts = value.split('/') if value else []
        if (not value or value.startswith('/') or '\0' in value
                or any(p in ('', '.', '..') for p in parts)
                or (not allow_slash and len(parts) > 1)
                or any(p.startswith(_TMP_PREFIX) for p in parts)):
            raise base.BackupStoreError(reason='invalid %s name %r' % (kind, value))

    def _container_path(self, container):
        self._check_name('container', container, allow_slash=False)
        return os.path.join(self.root, container)

    def _object_path(self, container, name):
        self._check_name('object', name, allow_slash=True)
        return os.path.join(self._container_path(container), name)

    def _error(self, what, path, err):
        if err.errno in (errno.ENOENT, errno.EACCES, errno.EROFS, errno.ENOSPC,
                         errno.EDQUOT, errno.ENOTDIR, errno.EIO, errno.ESTALE):
            cls = base.BackupStoreUnavailable
        else:
            cls = base.BackupStoreError
        return cls(reason='%s %s: %s' % (what, path, err.strerror or err))

    # -- the interface ----------------------------------------------------

    def check(self):
        try:
            os.makedirs(self.root, exist_ok=True)
            self._remove_stale_checks()
            fd, tmp = tempfile.mkstemp(prefix=_CHECK_PREFIX, dir=self.root)
            try:
                os.write(fd, b'ok')
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(tmp)
        except OSError as e:
            raise base.BackupStoreUnavailable(
                reason='backup directory %s is not writable: %s' % (self.root, e.strerror or e))

    def _remove_stale_checks(self):
        now = time.time()
        for name in os.listdir(self.root):
            if not name.startswith(_CHECK_PREFIX):
                continue
            path = os.path.join(self.root, name)
            try:
                if now - os.stat(path).st_mtime > _STALE_CHECK:
                    os.unlink(path)
            except FileNotFoundError:
                pass

    def ensure_container(self, container):
        path = self._container_path(container)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            raise self._error('cannot create container directory', path, e) from e

    def put(self, container, name, data):
        path = self._object_path(container, name)
        directory = os.path.dirname(path)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=directory)
        except OSError as e:
            raise self._error('cannot write object', path, e) from e
        try:
            try:
                view = memoryview(data)
                done = 0
                while done < len(view):
                    done += os.write(fd, view[done:])
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, path)
            _fsync_dir(directory)
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise self._error('cannot write object', path, e) from e

    def get(self, container, name):
        path = self._object_path(container, name)
        try:
            with open(path, 'rb', buffering=0) as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise base.BackupObjectNotFound(name=name, container=container)
        except OSError as e:
            raise self._error('cannot read object', path, e) from e

    def delete(self, container, name):
        path = self._object_path(container, name)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as e:
            raise self._error('cannot delete object', path, e) from e

    def list(self, container, prefix=''):
        top = self._container_path(container)
        # Walk only the directory the prefix's complete path components name.
        head = prefix.rpartition('/')[0]
        start = os.path.join(top, head) if head else top
        if head:
            self._check_name('object', head, allow_slash=True)
        names = []
        if not os.path.isdir(start):
            if not os.path.isdir(top) and not os.path.isdir(self.root):
                raise base.BackupStoreUnavailable(
                    reason='backup directory %s does not exist' % self.root)
            return names

        def walk_error(e):
            raise self._error('cannot list', getattr(e, 'filename', start), e)

        for dirpath, dirnames, filenames in os.walk(start, onerror=walk_error):
            rel = os.path.relpath(dirpath, top)
            rel = '' if rel == '.' else rel.replace(os.sep, '/') + '/'
            for f in filenames:
                full = rel + f
                if not f.startswith(_TMP_PREFIX) and full.startswith(prefix):
                    names.append(full)
        return sorted(names)
