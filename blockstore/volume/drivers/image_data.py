"""Moving image bytes into and out of a volume's file or block device (ImageOps helpers)."""

import os

from blockstore.common import exception

CHUNK = 4 * 1024 * 1024
# Into a fresh sparse file, zero blocks this small are left as holes too.
BLOCK = 64 * 1024


def rechunk(chunks, size=CHUNK):
    """Chunks of exactly ``size`` bytes (the last may be shorter), from chunks of any size."""
    buf = bytearray()
    for c in chunks:
        if not c:
            continue
        buf += c
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def write_image(fd, chunks, size, limit, zero=None):
    """Write ``chunks`` (``size`` bytes) from offset 0 of ``fd``; all-zero chunks are skipped.

    ``zero(offset, length)`` makes a skipped range read as zeros (None: it
    already does, e.g. a fresh sparse file). Returns the bytes written.
    Raises VolumeBackendAPIException when the data is longer than ``limit``
    or its length is not ``size``.
    """
    offset = 0
    for chunk in rechunk(chunks):
        n = len(chunk)
        if offset + n > limit:
            raise exception.VolumeBackendAPIException(
                data='the image holds more than the volume\'s %d bytes' % limit)
        if chunk.count(0) == n:
            if zero is not None:
                zero(offset, n)
        elif zero is not None:
            _pwrite_all(fd, memoryview(chunk), offset)
        else:
            view = memoryview(chunk)
            for start in range(0, n, BLOCK):
                block = view[start:start + BLOCK]
                if block.tobytes().count(0) != len(block):
                    _pwrite_all(fd, block, offset + start)
        offset += n
    if offset != size:
        raise exception.VolumeBackendAPIException(
            data='the image data held %d bytes, not the %d its record says' % (offset, size))
    return offset


def _pwrite_all(fd, view, offset):
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


def read_volume(path, length, chunk=CHUNK):
    """A generator of ``length`` bytes of ``path`` in chunks (holes read as zeros)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        offset = 0
        while offset < length:
            data = os.pread(fd, min(chunk, length - offset), offset)
            if not data:
                raise exception.VolumeBackendAPIException(
                    data='%s ended at %d bytes, before %d' % (path, offset, length))
            offset += len(data)
            yield data
    finally:
        os.close(fd)
