"""The words the controller's decision and data-plane code share, as types."""
from __future__ import annotations

Pair = tuple[int, int]                        # (ingress dpid, egress dpid): a switch pair's demand
SwitchPath = tuple[int, ...]                  # dpids from ingress to egress, loop-free
Split = tuple[tuple[SwitchPath, float], ...]  # a pair's paths with weights > 0 summing to 1
Link = tuple[int, int]                        # a directed link (src dpid, dst dpid)
Message = tuple[int, object]                  # (dpid, an OpenFlow message built without a datapath)

MAX_DPID_DIGITS = 20  # a 64-bit dpid in decimal: a longer number is no dpid (and int() of a
                      # few thousand digits is refused by Python's own limit)


def parse_dpid_pair(text: str, what: str, form: str, error=ValueError) -> tuple[int, int]:
    """``"<dpid>-<dpid>"`` (decimal, each at most MAX_DPID_DIGITS digits) as two distinct
    switches; ``error(message)`` is raised otherwise, naming ``what`` ("link", "pair") and
    the ``form`` expected."""
    parts = text.split("-")
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() and len(part) <= MAX_DPID_DIGITS
                                  for part in parts):
        raise error(f"{what} {text!r} is not {form} (decimal dpids of up to {MAX_DPID_DIGITS} digits)")
    first, second = int(parts[0]), int(parts[1])
    if first == second:
        raise error(f"{what} {text!r} has the same switch at both ends")
    return first, second
