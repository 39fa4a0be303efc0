"""The measured workloads: volume listing latency/throughput and concurrent creates.

Every loop is bounded in time; every figure is reported, none is asserted.
"""

import math
import statistics
import threading
import time

import requests

API_VERSION = '3.71'


class Client:
    """A raw REST client, one keep-alive session per thread (noauth tokens)."""

    def __init__(self, endpoint, project, user, version=API_VERSION, timeout=60):
        self.endpoint = endpoint
        self.project = project
        self.headers = {'X-Auth-Token': '%s:%s' % (user, project),
                        'OpenStack-API-Version': 'volume %s' % version,
                        'Content-Type': 'application/json', 'Accept': 'application/json',
                        # An ordinary project member, as before noauth callers without
                        # X-Roles became administrators (admin views render more fields).
                        'X-Roles': 'member,reader'}
        self.timeout = timeout
        self._local = threading.local()

    @property
    def session(self):
        s = getattr(self._local, 'session', None)
        if s is None:
            s = self._local.session = requests.Session()
            s.headers.update(self.headers)
        return s

    def url(self, path):
        return '%s/v3/%s%s' % (self.endpoint, self.project, path)

    def get(self, path):
        return self.session.get(self.url(path), timeout=self.timeout)

    def post(self, path, body):
        return self.session.post(self.url(path), json=body, timeout=self.timeout)

    def put(self, path, body):
        return self.session.put(self.url(path), json=body, timeout=self.timeout)


def percentile(values, pct):
    """Nearest-rank percentile (p99 of 200 samples is the 198th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def summarize_ms(seconds):
    ms = [s * 1000.0 for s in seconds]
    if not ms:
        return {'count': 0}
    return {'count': len(ms),
            'median_ms': round(statistics.median(ms), 2),
            'p99_ms': round(percentile(ms, 99), 2),
            'mean_ms': round(statistics.fmean(ms), 2),
            'min_ms': round(min(ms), 2),
            'max_ms': round(max(ms), 2)}


# ---------------------------------------------------------------------------
# 1. GET /volumes/detail with N volumes in one response
# ---------------------------------------------------------------------------

def verify_listing(client, expected, limit, query=''):
    r = client.get(listing_path(limit, query))
    if r.status_code != 200:
        raise RuntimeError('GET /volumes/detail answered %s: %s' % (r.status_code, r.text[:2000]))
    body = r.json()
    n = len(body.get('volumes', []))
    if n != expected:
        raise RuntimeError('GET %s returned %d volumes, expected %d'
                           % (listing_path(limit, query), n, expected))
    first = body['volumes'][0]
    return {'items': n, 'response_bytes': len(r.content),
            'has_links': 'volumes_links' in body,
            'sample_metadata': first.get('metadata')}


def listing_path(limit, query=''):
    """``/volumes/detail?limit=N[&query]``."""
    return '/volumes/detail?limit=%d%s' % (limit, '&' + query if query else '')


def listing_latency(client, limit, requests_n=200, warmup=10, max_seconds=600, query=''):
    path = listing_path(limit, query)
    for _ in range(warmup):
        r = client.get(path)
        r.raise_for_status()
    samples, errors = [], 0
    deadline = time.monotonic() + max_seconds
    for _ in range(requests_n):
        if time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        r = client.get(path)
        _ = r.content
        dt = time.perf_counter() - t0
        if r.status_code == 200:
            samples.append(dt)
        else:
            errors += 1
    out = summarize_ms(samples)
    out.update({'requests': requests_n, 'warmup': warmup, 'errors': errors})
    return out


def listing_throughput(client, limit, threads=8, duration=10.0, query=''):
    path = listing_path(limit, query)
    barrier = threading.Barrier(threads + 1)
    lock = threading.Lock()
    latencies, errors = [], [0]
    stop_at = [None]

    def worker():
        mine, bad = [], 0
        client.get(path)  # open this thread's keep-alive connection before the clock
        barrier.wait()
        while time.monotonic() < stop_at[0]:
            t0 = time.perf_counter()
            try:
                r = client.get(path)
                _ = r.content
                ok = r.status_code == 200
            except requests.RequestException:
                ok = False
            dt = time.perf_counter() - t0
            if ok:
                mine.append(dt)
            else:
                bad += 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    ts = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in ts:
        t.start()
    stop_at[0] = time.monotonic() + duration + 3600  # placeholder until the barrier
    barrier.wait(timeout=120)
    start = time.monotonic()
    stop_at[0] = start + duration
    for t in ts:
        t.join(duration + 120)
    elapsed = time.monotonic() - start
    out = summarize_ms(latencies)
    out.update({'threads': threads, 'duration_s': round(elapsed, 2),
                'completed': len(latencies), 'errors': errors[0],
                'requests_per_s': round(len(latencies) / elapsed, 2) if elapsed else None})
    return out


# ---------------------------------------------------------------------------
# 2. Concurrent creates until every volume is 'available'
# ---------------------------------------------------------------------------

def create_one(client, name, poll_interval=0.1, timeout=120.0):
    """POST a size-1 volume and poll it until 'available'. Returns a record dict."""
    t0 = time.monotonic()
    r = client.post('/volumes', {'volume': {'size': 1, 'name': name}})
    post_s = time.monotonic() - t0
    if r.status_code != 202:
        return {'ok': False, 'stage': 'post', 'http': r.status_code, 'body': r.text[:500],
                'post_s': post_s}
    vid = r.json()['volume']['id']
    deadline = t0 + timeout
    status = None
    polls = 0
    while time.monotonic() < deadline:
        g = client.get('/volumes/%s' % vid)
        polls += 1
        if g.status_code == 200:
            status = g.json()['volume']['status']
            if status == 'available':
                return {'ok': True, 'id': vid, 'post_s': post_s, 'polls': polls,
                        'total_s': time.monotonic() - t0}
            if status.startswith('error'):
                break
        time.sleep(poll_interval)
    return {'ok': False, 'stage': 'wait', 'id': vid, 'status': status, 'post_s': post_s,
            'polls': polls}


def concurrent_creates(client, total=200, threads=16, poll_interval=0.1, per_volume_timeout=120.0,
                       max_seconds=900.0):
    lock = threading.Lock()
    counter = [0]
    records = []
    deadline = [None]
    barrier = threading.Barrier(threads + 1)

    def worker(n):
        client.session  # open the session before the clock starts
        barrier.wait()
        while True:
            with lock:
                i = counter[0]
                if i >= total or time.monotonic() > deadline[0]:
                    return
                counter[0] += 1
            try:
                rec = create_one(client, 'bench-create-%04d' % i, poll_interval,
                                 per_volume_timeout)
            except requests.RequestException as e:
                rec = {'ok': False, 'stage': 'http', 'error': str(e)}
            rec['done_at'] = time.monotonic()
            with lock:
                records.append(rec)

    ts = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    deadline[0] = time.monotonic() + max_seconds
    for t in ts:
        t.start()
    barrier.wait(timeout=60)
    start = time.monotonic()
    for t in ts:
        t.join(max(1.0, deadline[0] - time.monotonic() + per_volume_timeout + 30))
    ok = [r for r in records if r['ok']]
    failed = [r for r in records if not r['ok']]
    last = max((r['done_at'] for r in ok), default=start)
    elapsed = last - start
    out = {
        'requested': total, 'threads': threads, 'poll_interval_s': poll_interval,
        'available': len(ok), 'failed': len(failed),
        'all_available_s': round(elapsed, 2) if len(ok) == total else None,
        'elapsed_s': round(elapsed, 2),
        'volumes_per_s': round(len(ok) / elapsed, 2) if elapsed > 0 else None,
        'post_latency': summarize_ms([r['post_s'] for r in ok]),
        'time_to_available': summarize_ms([r['total_s'] for r in ok]),
        'failures_sample': [{k: v for k, v in r.items() if k != 'done_at'}
                            for r in failed[:5]],
    }
    return out
