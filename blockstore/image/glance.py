"""A small Glance v2 client: image records, image data in and out.

The ``[glance]`` section says how to reach Glance: ``api_servers`` (or
``endpoint_override``) names the endpoint; otherwise it is looked up in the
Keystone catalog (service type ``image``) through the ``[glance]`` auth
plugin. Without an auth plugin the request's own token is passed through.
Session options (``timeout``, ``insecure``, ``cafile``...) are keystoneauth1's.

Only images whose bytes are the volume's bytes are copied: ``raw`` disk
format in a ``bare`` container. Anything else is refused with a 400 naming
the format (no conversion yet).
"""

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import service_client

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

GROUP = 'glance'
DEFAULT_TIMEOUT = 60
GiB = 1 << 30

glance_opts = [
    cfg.ListOpt('api_servers',
                help='Glance API endpoints (e.g. http://glance:9292); the first is used. '
                     'When unset (and no endpoint_override), the endpoint is looked up in '
                     'the Keystone catalog.'),
    cfg.StrOpt('endpoint_override', help='Glance API endpoint, as api_servers.'),
    cfg.StrOpt('region_name', help='Region of the image endpoint in the catalog.'),
    cfg.StrOpt('interface', default='public', choices=['public', 'internal', 'admin'],
               help='Which catalog endpoint of the image service to use.'),
    cfg.IntOpt('chunk_size', default=4 * 1024 * 1024, min=4096,
               help='Bytes per chunk when copying image data to or from a volume.'),
    cfg.StrOpt('conversion_dir',
               help='Directory where qcow2 images are converted to raw before they are '
                    'written to a volume (the system temporary directory when unset).'),
]

# What a volume's bytes can be written as, or taken from, unchanged.
COPYABLE_DISK_FORMATS = ('raw',)
COPYABLE_CONTAINER_FORMATS = ('bare',)
# What can be written to a volume after a conversion (qemu-img, see image/convert.py).
CONVERTIBLE_DISK_FORMATS = ('qcow2',)


class ImageNotFound(exception.NotFound):
    msg_fmt = 'Image %(image_id)s could not be found.'


class ImageUnacceptable(exception.Invalid):
    msg_fmt = 'Image %(image_id)s is unacceptable: %(reason)s'


class GlanceError(exception.BlockstoreException):
    msg_fmt = 'The image service failed: %(reason)s'
    code = 503
    safe = True


def register_opts(conf=CONF):
    service_client.register_opts(conf, GROUP, glance_opts)


def list_opts():
    return service_client.list_opts(GROUP, glance_opts)


register_opts()


def configured():
    """True when there is a way to find Glance (an endpoint or an auth plugin)."""
    group = CONF[GROUP]
    return bool(group.api_servers or group.endpoint_override or group.auth_type)


class Client:
    """Glance v2 over a keystoneauth1 session, as ``context``'s user (or the service user)."""

    def __init__(self, context):
        group = CONF[GROUP]
        self.context = context
        self.auth = (ks_loading.load_auth_from_conf_options(CONF, GROUP)
                     if group.auth_type else None)
        self.endpoint = ((group.api_servers or [None])[0] or group.endpoint_override)
        if self.auth is None and not self.endpoint:
            raise exception.NotAvailable(
                what='Image operations',
                reason='no image service is configured ([glance] api_servers, '
                       'endpoint_override or auth_type)')
        self.session = ks_loading.load_session_from_conf_options(CONF, GROUP, auth=self.auth)
        self.timeout = group.timeout or DEFAULT_TIMEOUT

    def _request(self, method, path, ok=(200,), **kwargs):
        headers = dict(kwargs.pop('headers', None) or {})
        kw = {'headers': headers, 'raise_exc': False, 'timeout': self.timeout}
        if self.auth is None:
            token = getattr(self.context, 'auth_token', None)
            if token:
                headers['X-Auth-Token'] = token
            kw['authenticated'] = False
        if self.endpoint:
            url = self.endpoint.rstrip('/') + path
        else:
            url = path
            kw['endpoint_filter'] = {'service_type': 'image', 'interface': CONF[GROUP].interface,
                                     'region_name': CONF[GROUP].region_name}
        kw.update(kwargs)
        try:
            resp = self.session.request(url, method, **kw)
        except ks_exc.ClientException as e:
            raise GlanceError(reason='%s %s: %s' % (method, path, e))
        if resp.status_code not in ok:
            if resp.status_code == 404:
                raise ImageNotFound(image_id=path.split('/')[3] if path.count('/') >= 3
                                    else path)
            raise GlanceError(reason='%s %s answered HTTP %s %s' % (
                method, path, resp.status_code, resp.text[:300]))
        return resp

    def show(self, image_id):
        """The image record (id, name, status, size, disk_format, min_disk...)."""
        return self._request('GET', '/v2/images/%s' % image_id).json()

    def download(self, image_id, chunk_size=None):
        """An iterator over the image's bytes, in chunks."""
        resp = self._request('GET', '/v2/images/%s/file' % image_id, ok=(200, 204),
                             stream=True)
        if resp.status_code == 204:
            return iter(())
        return resp.iter_content(chunk_size or CONF[GROUP].chunk_size)

    def create(self, name, disk_format='raw', container_format='bare', **properties):
        """A new (queued) image record; its id is in the answer's ``id``."""
        body = dict(properties, name=name, disk_format=disk_format,
                    container_format=container_format)
        return self._request('POST', '/v2/images', ok=(201, 200), json=body).json()

    def upload(self, image_id, chunks):
        """Send the image's bytes (an iterator of chunks); Glance makes it active."""
        self._request('PUT', '/v2/images/%s/file' % image_id, ok=(204, 200),
                      data=_Stream(chunks),
                      headers={'Content-Type': 'application/octet-stream'})

    def delete(self, image_id):
        self._request('DELETE', '/v2/images/%s' % image_id, ok=(204, 200, 404))


class _Stream:
    """An iterable over a chunk iterator (empty chunks dropped): requests sends it chunked."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)

    def __iter__(self):
        return (c for c in self._chunks if c)


def check_copyable(image):
    """Refuse (400) an image whose bytes are not a volume's bytes, or not ready."""
    image_id = image.get('id')
    if image.get('status') != 'active':
        raise ImageUnacceptable(image_id=image_id,
                                reason='status is %s, not active' % image.get('status'))
    disk, container = image.get('disk_format'), image.get('container_format')
    if disk in CONVERTIBLE_DISK_FORMATS and container in COPYABLE_CONTAINER_FORMATS:
        import shutil
        if shutil.which('qemu-img'):
            return
    if disk not in COPYABLE_DISK_FORMATS or container not in COPYABLE_CONTAINER_FORMATS:
        raise ImageUnacceptable(
            image_id=image_id,
            reason='disk_format %s in container %s cannot be copied to a volume; only %s '
                   'images in a %s container can' % (disk, container,
                                                      '/'.join(COPYABLE_DISK_FORMATS),
                                                      '/'.join(COPYABLE_CONTAINER_FORMATS)))


def size_gib(image):
    """The smallest volume (GiB) the image fits in: its (virtual) size and its min_disk."""
    size = int(image.get('size') or 0)
    if image.get('disk_format') != 'raw':
        size = int(image.get('virtual_size') or 0)   # unknown: checked after conversion
    return max(-(-size // GiB), int(image.get('min_disk') or 0), 1)


def check_fits(image, volume_size):
    need = size_gib(image)
    if volume_size < need:
        raise ImageUnacceptable(
            image_id=image.get('id'),
            reason='it needs a volume of at least %d GiB (size %s bytes, min_disk %s), '
                   'not %d GiB' % (need, image.get('size'), image.get('min_disk') or 0,
                                   volume_size))


# Volume image metadata that describes the old image, not a new one: not copied
# into an image uploaded from the volume (Cinder's glance_core_properties).
CORE_PROPERTIES = frozenset(('checksum', 'container_format', 'disk_format', 'image_name',
                             'image_id', 'min_disk', 'min_ram', 'name', 'size'))

# Image properties a volume created from the image remembers (Cinder's volume_image_metadata).
_COPIED_KEYS = ('id', 'name', 'size', 'min_disk', 'min_ram', 'disk_format',
                'container_format', 'checksum')
_SKIPPED = {'status', 'created_at', 'updated_at', 'file', 'schema', 'self', 'locations',
            'owner', 'visibility', 'protected', 'tags', 'direct_url', 'os_hash_algo',
            'os_hash_value', 'virtual_size', 'stores', 'os_hidden', 'image_id'}


def volume_image_metadata(image):
    """{key: str value} of an image to store as a volume's image metadata."""
    found = {}
    for key in _COPIED_KEYS:
        if image.get(key) is not None:
            found['image_id' if key == 'id' else
                  'image_name' if key == 'name' else key] = str(image[key])
    for key, value in image.items():
        if key in _COPIED_KEYS or key in _SKIPPED or value is None:
            continue
        if isinstance(value, (str, int, float, bool)):
            found[key] = str(value)
    return found

