"""The OSPF-weight rules for networks whose data gives no weights, stated once."""
from __future__ import annotations

import math

# Cisco's default OSPF reference bandwidth: a link's cost is reference / capacity
OSPF_REFERENCE_BPS = 10e9


def inverse_capacity_weight(capacity_bps: float) -> float:
    """The OSPF default cost of a link: reference / capacity, rounded, at least 1."""
    return max(1.0, round(OSPF_REFERENCE_BPS / capacity_bps))


def length_weight(km: float) -> float:
    """A latency-like weight: the link length in km, rounded up, at least 1."""
    return max(1.0, math.ceil(float(km)))
