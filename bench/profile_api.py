#!/usr/bin/env python
"""Profile the API's request handling in-process with cProfile.

Starts a deployment (embedded or multi, as run_bench.py does), inserts N
volumes, then runs a child process that builds the API's WSGI application from
the deployment's config file (same database, same transport) and calls it
directly -- no HTTP server, no client -- under cProfile:

  * ``--requests`` GET /v3/{project}/volumes/detail?limit=N calls, and
  * ``--creates`` POST /v3/{project}/volumes calls (the API side of a create:
    validation, type/quota lookups, the DB writes and the RPC cast; the
    deployment's scheduler and volume service do the rest).

Prints the top functions by cumulative time (with % of the total) and by own
time, and optionally writes the raw profile with --pstats.

    .venv/bin/python bench/profile_api.py --deployment embedded
"""

import argparse
import io
import json
import os
import sys
import tempfile
import shutil

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
for p in (REPO_ROOT, BENCH_DIR):
    if p not in sys.path:
        sys.path.insert(0, p)


def _environ(method, path, project, body=None, query=''):
    raw = json.dumps(body).encode() if body is not None else b''
    return {
        'REQUEST_METHOD': method, 'SCRIPT_NAME': '', 'PATH_INFO': path,
        'QUERY_STRING': query, 'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '8776',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1',
        'HTTP_HOST': '127.0.0.1:8776',
        'HTTP_X_AUTH_TOKEN': 'benchuser:%s' % project,
        'HTTP_OPENSTACK_API_VERSION': 'volume 3.71', 'HTTP_ACCEPT': 'application/json',
        'CONTENT_TYPE': 'application/json', 'CONTENT_LENGTH': str(len(raw)),
        'wsgi.input': io.BytesIO(raw), 'wsgi.errors': sys.stderr, 'wsgi.version': (1, 0),
        'wsgi.url_scheme': 'http', 'wsgi.multithread': True, 'wsgi.multiprocess': False,
        'wsgi.run_once': False,
    }


def _call(app, environ):
    status = []

    def start_response(s, headers, exc_info=None):
        status.append(s)
    body = b''.join(app(environ, start_response))
    return status[0], body


def _report(prof, label, top, out_path=None):
    import pstats
    stats = pstats.Stats(prof)
    total = stats.total_tt or 1e-9
    if out_path:
        stats.dump_stats(out_path)
    rows = []
    for func, (cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append((ct, tt, nc, '%s:%d(%s)' % (os.path.relpath(func[0], REPO_ROOT)
                                                if func[0].startswith(REPO_ROOT)
                                                else func[0].split('site-packages/')[-1],
                                                func[1], func[2])))
    print('\n== %s: %.3f s profiled ==' % (label, total))
    print('-- top %d by cumulative time --' % top)
    print('%8s %6s %8s  %s' % ('cum s', 'cum %', 'calls', 'function'))
    for ct, tt, nc, name in sorted(rows, reverse=True)[:top]:
        print('%8.3f %5.1f%% %8d  %s' % (ct, 100 * ct / total, nc, name))
    print('-- top %d by own time --' % top)
    print('%8s %6s %8s  %s' % ('own s', 'own %', 'calls', 'function'))
    for ct, tt, nc, name in sorted(rows, key=lambda r: r[1], reverse=True)[:top]:
        print('%8.3f %5.1f%% %8d  %s' % (tt, 100 * tt / total, nc, name))


def inner(args):
    import cProfile
    import time
    from blockstore.cmd import common
    conf = common.setup(['--config-file', args.config_file], embedded=args.embedded,
                        prog='bench-profile')
    from blockstore.api import app as api_app
    app = api_app.make_app(conf)

    path = '/v3/%s/volumes/detail' % args.project
    query = 'limit=%d' % args.volumes
    for _ in range(5):
        status, body = _call(app, _environ('GET', path, args.project, query=query))
    n = len(json.loads(body).get('volumes', []))
    print('listing: %s, %d volumes, %d bytes' % (status, n, len(body)))
    if args.requests:
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for _ in range(args.requests):
            _call(app, _environ('GET', path, args.project, query=query))
        prof.disable()
        wall = time.perf_counter() - t0
        print('listing: %.1f ms per request under the profiler' % (1000 * wall / args.requests))
        _report(prof, 'GET volumes/detail x%d' % args.requests, args.top,
                args.pstats and args.pstats + '.list')
    if args.creates:
        cproject = args.project + '-create'
        # As run_bench.py does: lift the quota, or every create after the tenth is a 413.
        env = _environ('PUT', '/v3/admin/os-quota-sets/%s' % cproject, 'admin',
                       body={'quota_set': {'volumes': -1, 'gigabytes': -1}})
        env['HTTP_X_AUTH_TOKEN'] = 'admin:admin'
        print('quota lifted: %s' % _call(app, env)[0])
        _call(app, _environ('POST', '/v3/%s/volumes' % cproject, cproject,
                            body={'volume': {'size': 1, 'name': 'warm'}}))
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        statuses = {}
        for i in range(args.creates):
            s, _ = _call(app, _environ('POST', '/v3/%s/volumes' % cproject, cproject,
                                       body={'volume': {'size': 1, 'name': 'p%d' % i}}))
            statuses[s] = statuses.get(s, 0) + 1
        prof.disable()
        wall = time.perf_counter() - t0
        print('create POST: %s; %.1f ms per request under the profiler' % (
            statuses, 1000 * wall / args.creates))
        _report(prof, 'POST volumes x%d' % args.creates, args.top,
                args.pstats and args.pstats + '.create')


def outer(args):
    import subprocess
    import deployments
    import run_bench
    workdir = tempfile.mkdtemp(prefix='bs_profile_%s_' % args.deployment)
    try:
        with deployments.FACTORIES[args.deployment](workdir) as running:
            run_bench.load_volumes(running, args.volumes)
            cmd = [sys.executable, os.path.abspath(__file__), '--inner',
                   '--config-file', running.dep.config_file,
                   '--project', run_bench.LIST_PROJECT, '--volumes', str(args.volumes),
                   '--requests', str(args.requests), '--creates', str(args.creates),
                   '--top', str(args.top)]
            if args.pstats:
                cmd += ['--pstats', args.pstats]
            if args.deployment == 'embedded':
                cmd.append('--embedded')
            subprocess.run(cmd, check=False, timeout=1800,
                           env=dict(os.environ, PYTHONPATH=REPO_ROOT))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--deployment', choices=['embedded', 'multi'], default='embedded')
    p.add_argument('--volumes', type=int, default=1000)
    p.add_argument('--requests', type=int, default=30)
    p.add_argument('--creates', type=int, default=30)
    p.add_argument('--top', type=int, default=25)
    p.add_argument('--pstats', help='also write raw profiles to PATH.list / PATH.create')
    p.add_argument('--inner', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--embedded', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--config-file', help=argparse.SUPPRESS)
    p.add_argument('--project', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inner:
        inner(args)
    else:
        outer(args)


if __name__ == '__main__':
    main()
