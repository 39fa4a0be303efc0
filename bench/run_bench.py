#!/usr/bin/env python
"""Benchmark blockstore's embedded and multi-process deployments.

For each deployment:
  1. GET /v3/{project}/volumes/detail?limit=N with N volumes in the response:
     median and p99 latency of 200 sequential requests (after 10 warm-ups), and
     requests/second with 8 concurrent client threads over ~10 s;
  2. time for M concurrent creates (16 threads, POST then poll until
     'available') and the resulting volumes/second;
  3. RSS of the API process after the runs (the whole process when embedded).

Figures are printed as a table and written as JSON to --out. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
for p in (REPO_ROOT, BENCH_DIR):
    if p not in sys.path:
        sys.path.insert(0, p)

import psutil  # noqa: E402

import deployments  # noqa: E402
import workloads  # noqa: E402

LIST_PROJECT = 'benchlist'
CREATE_PROJECT = 'benchcreate'
USER = 'benchuser'
MiB = 1024 * 1024


def log(msg):
    print('[%s] %s' % (time.strftime('%H:%M:%S'), msg), flush=True)


def load_volumes(running, count):
    cmd = [sys.executable, os.path.join(BENCH_DIR, 'load_volumes.py'),
           '--db-url', running.db_url, '--project', LIST_PROJECT, '--user', USER,
           '--host', running.dep.host, '--count', str(count)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                         env=dict(os.environ, PYTHONPATH=REPO_ROOT))
    if res.returncode != 0:
        raise RuntimeError('loading volumes failed:\n%s' % res.stderr[-4000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def rss_of(pid):
    try:
        proc = psutil.Process(pid)
        rss = proc.memory_info().rss
        for child in proc.children(recursive=True):
            rss += child.memory_info().rss
        return rss
    except psutil.NoSuchProcess:
        return None


def lift_quota(endpoint, project):
    """Best effort: make sure quotas do not cap the create run (admin noauth token)."""
    admin = workloads.Client(endpoint, 'admin', 'admin')
    try:
        r = admin.put('/os-quota-sets/%s' % project,
                      {'quota_set': {'volumes': -1, 'gigabytes': -1}})
        return r.status_code
    except Exception as e:  # quotas are not what we measure
        return 'error: %s' % e


def run_one(kind, args, workdir):
    result = {'deployment': kind}
    factory = deployments.FACTORIES[kind]
    t0 = time.monotonic()
    with factory(workdir) as running:
        result['startup_s'] = round(time.monotonic() - t0, 2)
        result['pids'] = running.pids()
        endpoint = running.dep.endpoint
        log('%s: API on %s (started in %.1fs)' % (kind, endpoint, result['startup_s']))
        try:
            # -- 1. listing -------------------------------------------------
            log('%s: inserting %d volumes into %s' % (
                kind, args.volumes, running.db_url.split('@')[-1]))
            result['load'] = load_volumes(running, args.volumes)
            log('%s: inserted in %.1fs' % (kind, result['load']['seconds']))
            lister = workloads.Client(endpoint, LIST_PROJECT, USER)
            limit = list_limit(args)
            result['listing_check'] = workloads.verify_listing(
                lister, min(args.volumes, limit), limit)
            log('%s: listing returns %d volumes (%d bytes)' % (
                kind, result['listing_check']['items'],
                result['listing_check']['response_bytes']))
            result['rss_after_load_mib'] = _mib(rss_of(running.api_pid))
            result['listing_cases'] = {}
            for case, query in listing_cases(args, result['load']):
                if query:
                    workloads.verify_listing(lister, min(args.volumes, limit) if case != 'name'
                                             else 1, limit, query)
                latency = workloads.listing_latency(
                    lister, limit, requests_n=args.list_requests, warmup=10, query=query)
                log('%s: listing (%s) median %.1f ms, p99 %.1f ms' % (
                    kind, case, latency['median_ms'], latency['p99_ms']))
                throughput = workloads.listing_throughput(
                    lister, limit, threads=args.list_threads, duration=args.duration,
                    query=query)
                log('%s: listing (%s) %.1f req/s with %d threads' % (
                    kind, case, throughput['requests_per_s'], args.list_threads))
                result['listing_cases'][case] = {
                    'path': workloads.listing_path(limit, query),
                    'latency': latency, 'throughput': throughput}
                if case == 'first':
                    result['listing_latency'] = latency
                    result['listing_throughput'] = throughput
            running.check_alive()

            # -- 2. creates -------------------------------------------------
            if not args.creates:
                result['api_rss_mib'] = _mib(rss_of(running.api_pid))
                result['rss_mib'] = {name: _mib(rss_of(pid))
                                     for name, pid in running.pids().items()}
                return result
            creator = workloads.Client(endpoint, CREATE_PROJECT, USER)
            result['quota_put_status'] = lift_quota(endpoint, CREATE_PROJECT)
            warm = workloads.create_one(creator, 'bench-warmup', timeout=120)
            result['warmup_create'] = {k: v for k, v in warm.items() if k != 'done_at'}
            if not warm['ok']:
                raise RuntimeError('warm-up create failed: %s' % warm)
            log('%s: warm-up create took %.2fs; running %d creates on %d threads' % (
                kind, warm['total_s'], args.creates, args.threads))
            result['creates'] = workloads.concurrent_creates(
                creator, total=args.creates, threads=args.threads,
                poll_interval=args.poll_interval)
            c = result['creates']
            log('%s: %d/%d available in %.1fs = %s volumes/s' % (
                kind, c['available'], c['requested'], c['elapsed_s'], c['volumes_per_s']))
            if c['failed']:
                result['creates']['log_errors'] = running.log_errors()
                for e in result['creates']['log_errors']:
                    log('%s: server error during creates:\n%s' % (kind, e))
            running.check_alive()

            # -- 3. memory --------------------------------------------------
            result['api_rss_mib'] = _mib(rss_of(running.api_pid))
            result['rss_mib'] = {name: _mib(rss_of(pid))
                                 for name, pid in running.pids().items()}
        except Exception:
            result['error'] = traceback.format_exc()
            result['log_tail'] = running.log_tail()
            log('%s: FAILED\n%s\n--- log tail ---\n%s' % (
                kind, result['error'], result['log_tail']))
    return result


def list_limit(args):
    """?limit= of the listing: --list-limit, else the volume count up to 1,000."""
    return args.list_limit or min(args.volumes, 1000)


# Listing variants (--listing-cases): the first page, a page about half way down
# (marker: the volume inserted half way), and two filters.
CASES = ('first', 'deep', 'status', 'name')


def listing_cases(args, load):
    """(case, extra query) pairs to measure."""
    wanted = CASES if args.listing_cases == 'all' else args.listing_cases.split(',')
    queries = {'first': '', 'status': 'status=available', 'name': 'name=bench-00042'}
    if load.get('middle_id'):
        queries['deep'] = 'marker=%s' % load['middle_id']
    return [(c, queries[c]) for c in wanted if c in queries]


def _mib(n):
    return None if n is None else round(n / MiB, 1)


def _fmt(v, spec='%.1f'):
    if v is None:
        return '-'
    if isinstance(v, (int, float)):
        return spec % v
    return str(v)


def print_table(results, args):
    rows = []
    cases = []
    for r in results:
        cases.extend(c for c in r.get('listing_cases', {}) if c != 'first' and c not in cases)
    for case in cases:
        rows += [
            ('GET volumes/detail (%s) median ms' % case,
             lambda r, c=case: r['listing_cases'][c]['latency']['median_ms']),
            ('GET volumes/detail (%s) p99 ms' % case,
             lambda r, c=case: r['listing_cases'][c]['latency']['p99_ms']),
            ('GET volumes/detail (%s) req/s, %d thr' % (case, args.list_threads),
             lambda r, c=case: r['listing_cases'][c]['throughput']['requests_per_s']),
        ]
    rows = [
        ('GET volumes/detail (%d of %d) median ms' % (list_limit(args), args.volumes),
         lambda r: r.get('listing_latency', {}).get('median_ms')),
        ('GET volumes/detail p99 ms',
         lambda r: r.get('listing_latency', {}).get('p99_ms')),
        ('GET volumes/detail req/s, %d threads' % args.list_threads,
         lambda r: r.get('listing_throughput', {}).get('requests_per_s')),
        ('  latency median ms under load',
         lambda r: r.get('listing_throughput', {}).get('median_ms')),
    ] + rows + [
        ('%d creates -> available, s' % args.creates,
         lambda r: r.get('creates', {}).get('elapsed_s')),
        ('creates: volumes/s (%d threads)' % args.threads,
         lambda r: r.get('creates', {}).get('volumes_per_s')),
        ('creates: available / failed',
         lambda r: ('%s / %s' % (r['creates']['available'], r['creates']['failed'])
                    if 'creates' in r else None)),
        ('create: POST median ms',
         lambda r: r.get('creates', {}).get('post_latency', {}).get('median_ms')),
        ('create: time to available median ms',
         lambda r: r.get('creates', {}).get('time_to_available', {}).get('median_ms')),
        ('API process RSS MiB (after runs)', lambda r: r.get('api_rss_mib')),
        ('all processes RSS MiB',
         lambda r: (sum(v for v in r['rss_mib'].values() if v) if r.get('rss_mib') else None)),
    ]
    names = [r['deployment'] for r in results]
    w0 = max(len(label) for label, _ in rows) + 2
    w = max(14, max(len(n) for n in names) + 2)
    print()
    print(''.ljust(w0) + ''.join(n.rjust(w) for n in names))
    print('-' * (w0 + w * len(names)))
    for label, get in rows:
        cells = []
        for r in results:
            try:
                cells.append(_fmt(get(r)).rjust(w))
            except Exception:
                cells.append('-'.rjust(w))
        print(label.ljust(w0) + ''.join(cells))
    for r in results:
        if r.get('error'):
            print('\n%s FAILED: %s' % (r['deployment'], r['error'].strip().splitlines()[-1]))
    print()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--deployment', choices=['embedded', 'multi', 'both'], default='both')
    p.add_argument('--volumes', type=int, default=1000,
                   help='volumes in the listed project (and ?limit=); default 1000')
    p.add_argument('--list-limit', type=int, default=None,
                   help='?limit= of the listing; default: --volumes up to 1000')
    p.add_argument('--listing-cases', default='first',
                   help="comma-separated of first,deep,status,name (or 'all'): the first "
                        "page, a page half way down by marker, ?status=available, "
                        "?name=bench-00042; default first")
    p.add_argument('--creates', type=int, default=200,
                   help='concurrent creates (0: skip the create run); default 200')
    p.add_argument('--threads', type=int, default=16, help='create client threads; default 16')
    p.add_argument('--list-threads', type=int, default=8,
                   help='client threads for the listing throughput run; default 8')
    p.add_argument('--list-requests', type=int, default=200,
                   help='sequential listing requests timed; default 200')
    p.add_argument('--duration', type=float, default=10.0,
                   help='seconds of the listing throughput run; default 10')
    p.add_argument('--poll-interval', type=float, default=0.1,
                   help='seconds between status polls of a created volume; default 0.1')
    p.add_argument('--out', default=os.path.join(BENCH_DIR, 'results.json'))
    p.add_argument('--keep', action='store_true', help='keep the work directories')
    args = p.parse_args(argv)

    kinds = ['embedded', 'multi'] if args.deployment == 'both' else [args.deployment]
    results = []
    for kind in kinds:
        workdir = tempfile.mkdtemp(prefix='bs_bench_%s_' % kind)
        log('%s: work directory %s' % (kind, workdir))
        try:
            results.append(run_one(kind, args, workdir))
        except Exception:
            results.append({'deployment': kind, 'error': traceback.format_exc()})
            log('%s: could not run:\n%s' % (kind, results[-1]['error']))
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)

    doc = {
        'when': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': {'cpus': os.cpu_count(), 'memory_gib': round(
            psutil.virtual_memory().total / 1024 ** 3, 1), 'python': platform.python_version(),
            'platform': platform.platform()},
        'parameters': vars(args),
        'results': results,
    }
    print_table(results, args)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(doc, f, indent=2, default=str)
    log('results written to %s' % args.out)
    return 1 if any(r.get('error') for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())
