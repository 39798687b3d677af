"""This controller's OpenFlow role on every switch, following the term etcd gives it
(:mod:`controller.leadership`): MASTER while it leads, SLAVE otherwise. Only a master changes
the switches; a slave keeps its view of links, hosts and load warm, so that taking over costs a
read-back of the switches, not a rediscovery of the network.

With high availability off (one controller), the role stays OpenFlow's default, EQUAL, and
every write is allowed.
"""
from __future__ import annotations

from collections.abc import Iterable

from controller import ofmsgs
from controller.leadership import NOBODY, Term
from controller.splits import Message


class ControllerRole:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.term = NOBODY
        self.stale_refusals = 0  # role requests switches refused as older than one they saw

    @property
    def leading(self) -> bool:
        return self.term.leading

    def writes_allowed(self) -> bool:
        """Whether rules, groups and packets may be sent to the switches now."""
        return not self.enabled or self.term.leading

    def role(self) -> int:
        if not self.enabled:
            return ofmsgs.ROLE_EQUAL
        return ofmsgs.ROLE_MASTER if self.term.leading else ofmsgs.ROLE_SLAVE

    def name(self) -> str:
        return {ofmsgs.ROLE_EQUAL: "equal", ofmsgs.ROLE_MASTER: "master",
                ofmsgs.ROLE_SLAVE: "slave"}[self.role()]

    def on_connect(self, dpid: int) -> list[Message]:
        """What a switch that connected gets before anything else: nothing without HA; else the
        events a standby needs and this controller's role."""
        if not self.enabled:
            return []
        return [(dpid, ofmsgs.standby_async_config()),
                (dpid, ofmsgs.role_request(self.role(), self.term.generation))]

    def on_term(self, term: Term, connected: Iterable[int]) -> tuple[bool, list[Message]]:
        """A new reading of the term: whether this controller just became master (it must then
        read the switches back before deciding), and the role requests telling every connected
        switch of a change of role or generation."""
        if not self.enabled or term == self.term:
            return False, []
        became_master = term.leading and not self.term.leading
        self.term = term
        if not term.leading and term.generation == 0:
            return False, []  # nobody leads yet: a slave with no generation asserts nothing
        return became_master, [(dpid, ofmsgs.role_request(self.role(), term.generation))
                               for dpid in sorted(connected)]

    def on_stale(self) -> bool:
        """A switch refused our role request as stale: a newer master exists, whatever etcd
        said when we last asked. Stop writing at once; returns whether we were leading."""
        self.stale_refusals += 1
        was_leading = self.term.leading
        if was_leading:
            self.term = Term(False, "", self.term.generation)
        return was_leading
