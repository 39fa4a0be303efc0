"""blockstore-backup: not implemented yet.

Backups are a later piece of work; this command exists so deployments can be
scripted now, and says plainly that it does nothing.
"""

import sys


def main(argv=None):
    sys.stderr.write('blockstore-backup: backups are not implemented yet; '
                     'nothing to run.\n')
    return 2


if __name__ == '__main__':
    sys.exit(main())
