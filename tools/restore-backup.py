#!/usr/bin/env python3
"""Restore a blockstore backup from a POSIX backup directory to a file, without blockstore.

Only the Python standard library and ``zstandard`` (for zstd objects) are
needed. The format is documented in doc/backup-format.rst; this tool is its
reference reader and deliberately simple (one thread).

    tools/restore-backup.py DIRECTORY PREFIX OUTPUT [--container backups]

DIRECTORY is the store's root (``backup_posix_path``, by default
``$state_path/backups``); objects are ``DIRECTORY/CONTAINER/NAME``. PREFIX is
the backup's object prefix (the ``service_metadata`` of its row, or any name
before ``_metadata`` in the container). The chain of an incremental is
followed through each metadata's ``parent`` to its full backup. OUTPUT is
created (or truncated) and written sparse: holes are not written. Every block
is checked against the SHA-256 its backup recorded; a mismatch stops with an
error. Exit status 0 on success, 1 on any error.
"""

import argparse
import hashlib
import json
import os
import sys
import zlib

FORMAT = 'blockstore-chunked'
KNOWN_VERSION = 1


class Corrupt(Exception):
    pass


def read_object(root, container, name):
    with open(os.path.join(root, container, name), 'rb') as f:
        return f.read()


def decode(raw, entry):
    """The uncompressed bytes of an object described by ``entry``."""
    if len(raw) != entry['compressed_length']:
        raise Corrupt('%s: %d bytes, %d expected' % (entry['name'], len(raw),
                                                       entry['compressed_length']))
    kind = entry['compression']
    if kind == 'none':
        data = raw
    elif kind == 'zlib':
        data = zlib.decompress(raw)
    elif kind == 'zstd':
        import zstandard
        data = zstandard.ZstdDecompressor().decompress(raw, max_output_size=entry['length'])
    else:
        raise Corrupt('%s: unknown compression %r' % (entry['name'], kind))
    if len(data) != entry['length']:
        raise Corrupt('%s: %d bytes decompressed, %d expected'
                      % (entry['name'], len(data), entry['length']))
    return data


def read_metadata(root, container, prefix):
    meta = json.loads(read_object(root, container, prefix + '_metadata'))
    if meta.get('format') != FORMAT:
        raise Corrupt('%s is not a %s backup' % (prefix, FORMAT))
    if meta.get('version', 0) > KNOWN_VERSION:
        raise Corrupt('%s has format version %s; this tool knows %d'
                      % (prefix, meta['version'], KNOWN_VERSION))
    return meta


def read_block_map(root, meta):
    entry = meta['sha256file']
    data = decode(read_object(root, meta['container'], entry['name']), entry)
    if hashlib.sha256(data).hexdigest() != entry['sha256']:
        raise Corrupt('%s: SHA-256 mismatch' % entry['name'])
    return json.loads(data)['sha256']


def chain_of(root, container, prefix):
    """Metadata of the backup and its ancestors, the full backup first."""
    chain = [read_metadata(root, container, prefix)]
    while chain[0]['parent'] is not None:
        parent = chain[0]['parent']
        chain.insert(0, read_metadata(root, parent['container'], parent['prefix']))
        if len(chain) > 10000:
            raise Corrupt('parent chain does not end')
    return chain


def restore(root, container, prefix, output, log=print):
    chain = chain_of(root, container, prefix)
    newest = chain[-1]
    block_size, size = newest['block_size'], newest['size']
    maps = [read_block_map(root, meta) for meta in chain]
    newest_map = maps[-1]
    done = set()   # blocks already written (from a newer backup)
    written = 0
    with open(output, 'wb') as out:
        out.truncate(size)
        # Newest first: a block comes from the newest backup that stored it;
        # blocks the newest map says are holes (null) are never written.
        for meta, block_map in reversed(list(zip(chain, maps))):
            for obj in meta['objects']:
                wanted = []
                pos = 0
                for offset, length in obj['extents']:
                    for b in range(offset // block_size, -(-(offset + length) // block_size)):
                        if b < len(newest_map) and newest_map[b] is not None and b not in done:
                            lo = b * block_size
                            n = min(lo + block_size, offset + length, size) - lo
                            wanted.append((pos + lo - offset, lo, n, b))
                    pos += length
                if not wanted:
                    continue
                data = decode(read_object(root, meta['container'], obj['name']), obj)
                for p, lo, n, b in wanted:
                    block = data[p:p + n]
                    if hashlib.sha256(block).hexdigest() != block_map[b]:
                        raise Corrupt('%s: SHA-256 mismatch of the block at offset %d'
                                      % (obj['name'], lo))
                    out.seek(lo)
                    out.write(block)
                    done.add(b)
                    written += n
        missing = [b for b, h in enumerate(newest_map) if h is not None and b not in done]
        if missing:
            raise Corrupt('block %d (and %d more) is in no object of the chain'
                          % (missing[0], len(missing) - 1))
    log('restored %s (%d backups in the chain): %d bytes, %d of data' % (
        prefix, len(chain), size, written))
    return size, written


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('directory', help='the POSIX store root (backup_posix_path)')
    p.add_argument('prefix', help="the backup's object prefix")
    p.add_argument('output', help='file to write (created or truncated)')
    p.add_argument('--container', default='backups')
    args = p.parse_args(argv)
    try:
        restore(args.directory, args.container, args.prefix, args.output)
    except (OSError, ValueError, KeyError, ImportError, Corrupt) as e:
        print('restore-backup: %s: %s' % (type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
