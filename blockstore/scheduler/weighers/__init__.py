"""Weighers: order the pools that passed the filters (highest weight wins).

A weigher has ``weigh(pool, spec) -> float``; weights are normalised to 0..1
across candidates and multiplied by the weigher's multiplier.
"""

from blockstore.scheduler.weighers.capacity import CapacityWeigher

WEIGHERS = {cls.__name__: cls for cls in (CapacityWeigher,)}


def order(pools, spec, weighers):
    scores = [0.0] * len(pools)
    for weigher in weighers:
        raw = [weigher.weigh(p, spec) for p in pools]
        lo, hi = min(raw), max(raw)
        span = (hi - lo) or 1.0
        for i, value in enumerate(raw):
            scores[i] += weigher.multiplier() * (value - lo) / span
    return [p for _score, _i, p in sorted(
        ((s, -i, p) for i, (s, p) in enumerate(zip(scores, pools))),
        key=lambda t: (t[0], t[1]), reverse=True)]
