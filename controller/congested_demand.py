"""Demand that congested TCP under-reports, raised where the controller sees the congestion.

A pair's measured rate is what its TCP connections got, not what they would send: on a path
through a saturated link they back off, so the measured demand shrinks exactly where the routing
is worst. A policy fed that demand sees the saturated link as just full and can keep choosing the
routing that saturates it (routing -> clipped demand -> the same routing). Raising the part of a
pair's rate that crosses a saturated link by ``boost`` makes such a link look overloaded, so the
decision (and ``min_gain``'s comparison with the installed splits) moves traffic off it; once no
link of a path is saturated, its rate is taken as measured again.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from controller.splits import Pair, Split


def congestion_corrected(demand_bps: Mapping[Pair, float], splits: Mapping[Pair, Split],
                         utilisation: Callable[[tuple[int, int]], float], saturated: float,
                         boost: float) -> tuple[dict[Pair, float], list[Pair]]:
    """(each pair's demand, the pairs raised). The share of a pair's rate that its installed split
    sends over a path with a link at ``saturated`` utilisation or more counts ``1 + boost``
    times; pairs without an installed split, and every pair with ``boost`` 0, keep their rate."""
    corrected = dict(demand_bps)
    if boost <= 0:
        return corrected, []
    raised = []
    for pair, rate in demand_bps.items():
        split = splits.get(pair) or ()
        total = sum(weight for _, weight in split)
        if rate <= 0 or total <= 0:
            continue
        congested = sum(weight for path, weight in split
                        if any(utilisation(link) >= saturated for link in zip(path, path[1:])))
        if congested > 0:
            corrected[pair] = rate * (1.0 + boost * congested / total)
            raised.append(pair)
    return corrected, sorted(raised)
