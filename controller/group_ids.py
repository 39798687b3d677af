"""Select group ids: each ingress switch has one select group per egress switch, named after
the egress so that a restarted controller finds a pair's group on the switch without any saved
state.

OpenFlow group ids have 32 bits, datapath ids 64: Open vSwitch's default dpid is derived from
the bridge's MAC address (48 bits). A dpid below ``FOLDED_BASE`` (2^31: every dpid Mininet,
Ryu's tests and a hand-set ``other-config:datapath-id`` usually give) is its own group id; a
larger one is folded by a hash into ``FOLDED_BASE .. MAX_GROUP_ID`` (the ids above are the
fast-failover groups', :mod:`controller.ofmsgs`). The fold is the same in every process, so a
group read back from a switch is named by its id alone; which egress a folded id stands for is
known once that egress has connected (:class:`GroupNames`). Two switches whose dpids fold to
the same id cannot both be egresses: the later one is refused, and traffic to it is not routed.
"""
from __future__ import annotations

import hashlib

FF_GROUP_BASE = 0xFFFF0000         # fast-failover groups take FF_GROUP_BASE + label
MAX_GROUP_ID = FF_GROUP_BASE - 1
FOLDED_BASE = 0x80000000
FOLDED_SPAN = FF_GROUP_BASE - FOLDED_BASE

__all__ = ["FOLDED_BASE", "GroupNames", "MAX_GROUP_ID", "is_select_group_id", "select_group_id",
           "unfolded_egress"]


def select_group_id(egress: int) -> int:
    """The id of the select group towards switch ``egress`` (on every ingress)."""
    if egress < 0 or egress >= 1 << 64:
        raise ValueError(f"{egress!r} is not a datapath id (64 bits)")
    if egress < FOLDED_BASE:
        return egress
    digest = hashlib.blake2b(egress.to_bytes(8, "big"), digest_size=4, person=b"qroute-groups").digest()
    return FOLDED_BASE + int.from_bytes(digest, "big") % FOLDED_SPAN


def is_select_group_id(group_id: int) -> bool:
    return 0 <= group_id <= MAX_GROUP_ID


def unfolded_egress(group_id: int) -> int | None:
    """The egress of a select group id that is its dpid; None for a folded id (which needs
    :class:`GroupNames`) or one outside the select groups' range."""
    return group_id if 0 <= group_id < FOLDED_BASE else None


class GroupNames:
    """The egresses behind folded group ids: every switch that connected, each named by the first
    dpid to claim its id (a name stays while the controller runs, so a switch that leaves and
    comes back keeps it)."""

    def __init__(self) -> None:
        self._folded: dict[int, int] = {}   # folded group id -> the egress dpid it names

    def add(self, dpid: int) -> int | None:
        """Take switch ``dpid`` as an egress; returns the dpid already named by its group id when
        that is another switch's (then ``dpid`` cannot be an egress), else None."""
        group_id = select_group_id(dpid)
        if group_id < FOLDED_BASE:
            return None
        owner = self._folded.setdefault(group_id, dpid)
        return None if owner == dpid else owner

    def nameable(self, egress: int) -> bool:
        """Whether select groups towards ``egress`` can be named (its id is not another's)."""
        group_id = select_group_id(egress)
        return group_id < FOLDED_BASE or self._folded.get(group_id, egress) == egress

    def egress(self, group_id: int) -> int | None:
        """The switch a select group id is named after; None for a folded id no connected
        switch claimed (yet), or an id outside the select groups' range."""
        if not is_select_group_id(group_id) or group_id < FOLDED_BASE:
            return unfolded_egress(group_id)
        return self._folded.get(group_id)
