"""The Swift backup store: objects in containers of OpenStack Swift.

Options ([backup]): ``backup_swift_auth_url`` with ``backup_swift_user`` and
``backup_swift_key`` (tempauth, ``backup_swift_auth_version = 1``) or a
Keystone v3 user (``backup_swift_auth_version = 3`` with
``backup_swift_project`` and the domains); ``backup_swift_url`` overrides the
storage URL that authentication returns; ``backup_swift_container`` (default:
``backup_container``), ``backup_swift_retries`` and ``backup_swift_timeout``.

Each thread gets its own ``swiftclient`` connection (they are not thread
safe), all sharing one token, got once. A put sends the MD5 of the data as its
ETag, so Swift refuses (422) an upload that arrived damaged; a get checks the
MD5 of what it read against the object's ETag. Swift lists at most
``container_listing_limit`` names per request: ``list`` follows the pages.

Errors: a Swift that cannot be reached, times out, refuses the credentials or
answers 503 raises ``BackupStoreUnavailable`` naming the URL; a missing object
on get raises ``BackupObjectNotFound``; any other answer raises
``BackupStoreError`` naming the HTTP status.
"""

import hashlib
import io
import threading
import weakref

import requests
from swiftclient import client as swift_client
from swiftclient import exceptions as swift_exc

from blockstore.backup.drivers import base

# Statuses that mean "Swift cannot serve now" rather than "this request is wrong".
_UNAVAILABLE_STATUSES = (401, 403, 502, 503, 504)


def _md5(data):
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class _Body(io.RawIOBase):
    """A rewindable file over a bytes-like object, read without copying it whole.

    swiftclient streams a file in pieces and, to retry a put, rewinds only
    what has ``seek``/``tell``.
    """

    def __init__(self, data):
        super().__init__()
        self._view = memoryview(data).cast('B')
        self._pos = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self._pos

    def seek(self, pos, whence=io.SEEK_SET):
        base_pos = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base_pos + pos)
        return self._pos

    def read(self, size=-1):
        end = len(self._view) if size is None or size < 0 else min(len(self._view),
                                                                   self._pos + size)
        piece = bytes(self._view[self._pos:end])
        self._pos = max(self._pos, end)
        return piece

    def readinto(self, buffer):
        piece = self.read(len(buffer))
        buffer[:len(piece)] = piece
        return len(piece)


class SwiftStore(base.BackupStore):
    name = 'swift'
    thread_safe = True
    accepts_buffers = True      # put takes a memoryview (the chunked pipeline's buffers)

    def __init__(self, conf):
        super().__init__(conf)
        opts = conf.backup
        self.auth_url = opts.backup_swift_auth_url
        self.storage_url = opts.backup_swift_url
        self.auth_version = opts.backup_swift_auth_version
        self.user = opts.backup_swift_user
        self.key = opts.backup_swift_key
        self.retries = opts.backup_swift_retries
        self.timeout = opts.backup_swift_timeout
        self._os_options = {}
        if self.auth_version == '3':
            self._os_options.update(project_name=opts.backup_swift_project,
                                    project_domain_name=opts.backup_swift_project_domain,
                                    user_domain_name=opts.backup_swift_user_domain)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._auth = None           # (storage url, token) shared by the connections
        # Every live thread's connection, so close() reaches them; a thread's
        # connection goes with the thread (the pipeline's pools come and go).
        self._connections = weakref.WeakSet()

    @property
    def default_container(self):
        return self.conf.backup.backup_swift_container or self.conf.backup.backup_container

    @property
    def where(self):
        """Where the store is, for error messages (never the key)."""
        where = self.auth_url or '<backup_swift_auth_url unset>'
        return '%s (storage %s)' % (where, self.storage_url) if self.storage_url else where

    # -- connections ------------------------------------------------------

    def _new_connection(self, url=None, token=None):
        return swift_client.Connection(
            authurl=self.auth_url, user=self.user, key=self.key,
            auth_version=self.auth_version, os_options=dict(self._os_options),
            preauthurl=url or self.storage_url, preauthtoken=token,
            retries=self.retries, starting_backoff=0.5, max_backoff=8,
            timeout=self.timeout)

    def _authenticate(self):
        """(storage url, token), got once and shared by every thread's connection."""
        with self._lock:
            if self._auth is None:
                if not self.auth_url:
                    raise base.BackupStoreUnavailable(
                        reason='[backup] backup_swift_auth_url is not set')
                conn = self._new_connection()
                try:
                    self._auth = conn.get_auth()
                except Exception as e:
                    raise self._translate(e, 'authenticate') from e
                finally:
                    conn.close()
            return self._auth

    def _connection(self):
        conn = getattr(self._local, 'conn', None)
        if conn is None:
            url, token = self._authenticate()
            conn = self._new_connection(url, token)
            self._local.conn = conn
            with self._lock:
                self._connections.add(conn)
        return conn

    def close(self):
        """Close every connection and forget the token (the store stays usable)."""
        with self._lock:
            conns, self._connections = list(self._connections), weakref.WeakSet()
            self._auth = None
        for conn in conns:
            conn.close()
        self._local = threading.local()

    # -- errors -----------------------------------------------------------

    def _translate(self, err, what):
        if isinstance(err, base.BackupStoreError):
            return err
        if isinstance(err, swift_exc.ClientException):
            status = err.http_status
            if status is None or status in _UNAVAILABLE_STATUSES:
                return base.BackupStoreUnavailable(
                    reason='Swift at %s could not %s: %s' % (self.where, what,
                                                            self._describe(err)))
            return base.BackupStoreError(
                reason='Swift at %s answered %s to %s: %s' % (self.where, status, what,
                                                             self._describe(err)))
        if isinstance(err, (requests.exceptions.RequestException, OSError)):
            return base.BackupStoreUnavailable(
                reason='cannot reach Swift at %s to %s: %s' % (self.where, what, err))
        return base.BackupStoreError(
            reason='Swift at %s failed to %s: %s: %s' % (self.where, what,
                                                       type(err).__name__, err))

    @staticmethod
    def _describe(err):
        text = err.http_reason or err.msg or str(err)
        return '%s %s' % (err.http_status, text) if err.http_status else text

    def _call(self, what, method, *args, **kwargs):
        try:
            return getattr(self._connection(), method)(*args, **kwargs)
        except swift_exc.ClientException:
            raise
        except base.BackupStoreError:
            raise
        except Exception as e:
            raise self._translate(e, what) from e

    @staticmethod
    def _check_container(container):
        if not container or '/' in container:
            raise base.BackupStoreError(reason='invalid Swift container name %r' % container)

    # -- the interface ----------------------------------------------------

    def check(self):
        try:
            self._call('read the account', 'head_account')
        except swift_exc.ClientException as e:
            raise base.BackupStoreUnavailable(
                reason='Swift at %s could not read the account: %s' % (self.where,
                                                                     self._describe(e))) from e

    def ensure_container(self, container):
        self._check_container(container)
        what = 'create container %s' % container
        try:
            self._call(what, 'put_container', container)
        except swift_exc.ClientException as e:
            raise self._translate(e, what) from e

    def put(self, container, name, data):
        self._check_container(container)
        etag = _md5(data)
        what = 'store object %s/%s' % (container, name)
        for attempt in (1, 2):
            try:
                # A file object, not bytes: swiftclient retries only what it can rewind.
                returned = self._call(what, 'put_object', container, name,
                                      contents=_Body(data),
                                      content_length=memoryview(data).nbytes, etag=etag,
                                      content_type='application/octet-stream')
            except swift_exc.ClientException as e:
                if e.http_status == 404 and attempt == 1:
                    self.ensure_container(container)    # the container was never made
                    continue
                if e.http_status == 422:
                    raise base.BackupStoreError(
                        reason='Swift at %s refused object %s/%s: its content did not match '
                               'the MD5 sent (422)' % (self.where, container, name)) from e
                raise self._translate(e, what) from e
            if returned and returned.strip('"') != etag:
                raise base.BackupStoreError(
                    reason='Swift at %s stored object %s/%s with ETag %s, not %s'
                           % (self.where, container, name, returned, etag))
            return

    def get(self, container, name):
        self._check_container(container)
        what = 'read object %s/%s' % (container, name)
        try:
            headers, body = self._call(what, 'get_object', container, name)
        except swift_exc.ClientException as e:
            if e.http_status == 404:
                raise base.BackupObjectNotFound(name=name, container=container) from e
            raise self._translate(e, what) from e
        etag = (headers.get('etag') or '').strip('"')
        # A large object's ETag is not the MD5 of its content: those are marked.
        if etag and 'x-object-manifest' not in headers and 'x-static-large-object' not in headers:
            if _md5(body) != etag:
                raise base.BackupStoreError(
                    reason='object %s/%s read from Swift at %s is corrupt: MD5 %s, ETag %s'
                           % (container, name, self.where, _md5(body), etag))
        return body

    def delete(self, container, name):
        self._check_container(container)
        what = 'delete object %s/%s' % (container, name)
        try:
            self._call(what, 'delete_object', container, name)
        except swift_exc.ClientException as e:
            if e.http_status == 404:
                return
            raise self._translate(e, what) from e

    def list(self, container, prefix=''):
        self._check_container(container)
        what = 'list container %s' % container
        try:
            _headers, listing = self._call(what, 'get_container', container,
                                           prefix=prefix or None, full_listing=True)
        except swift_exc.ClientException as e:
            if e.http_status == 404:
                return []
            raise self._translate(e, what) from e
        return sorted(item['name'] for item in listing)
