"""High availability as the app sees it: the etcd campaign (:mod:`controller.leadership`) and
the OpenFlow role that follows it (:mod:`controller.roles`), with what a switch's errors say
of the role, the gate on writes, and the REST view. Time comes in as arguments.
"""
from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Iterable

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.leadership import Leadership
from controller.of_errors import ADD, DELETE, MODIFY
from controller.roles import ControllerRole
from controller.splits import Message

# what changes a switch's tables, groups, meters or ports, or sends a packet out: a master's
# alone (statistics, barriers, role and async-config messages go in any role)
WRITE_MESSAGES = (parser.OFPFlowMod, parser.OFPGroupMod, parser.OFPMeterMod, parser.OFPPacketOut,
                  parser.OFPPortMod, parser.OFPTableMod)

WRITE_NAMES = {kind.__name__ for kind in WRITE_MESSAGES}

STALE = "stale"        # the switch saw a newer master's generation
IS_SLAVE = "is_slave"  # the switch refused a write: it takes this controller for a slave


def is_write(message) -> bool:
    return isinstance(message, WRITE_MESSAGES)


def is_write_sent(sent) -> bool:
    """Whether a message recorded in the sent log (controller.of_errors.Sent) was a write."""
    if sent is None:
        return False
    return sent.command in (ADD, MODIFY, DELETE) or sent.command in WRITE_NAMES


def role_error(error_type: int, code: int) -> str:
    """What an OpenFlow error says of this controller's role: STALE, IS_SLAVE or ""."""
    if error_type == ofp.OFPET_ROLE_REQUEST_FAILED and code == ofp.OFPRRFC_STALE:
        return STALE
    if error_type == ofp.OFPET_BAD_REQUEST and code == ofp.OFPBRC_IS_SLAVE:
        return IS_SLAVE
    return ""


class WithoutOfctlsUnknownErrors(logging.Filter):
    """Ryu's ofctl service logs every OpenFlow error it did not ask for as "unknown error xid
    N", at ERROR: a standby's refused LLDP packet-outs would fill the log with those (two a
    second per switch). qroute's own handler logs every error decoded (controller.app)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == "unknown error xid %s")


OFCTL_LOGGER = "OfctlService"  # ryu.app.ofctl.service.OfctlService's logger (its class name)


def default_controller_id(of_port: int | None) -> str:
    """Unique per running process: the host, the OpenFlow port and the process id."""
    return f"{socket.gethostname()}:{of_port or 'of'}:{os.getpid()}"


class HighAvailability:
    """`leadership` is None without HA (the role then stays EQUAL and every write goes)."""

    def __init__(self, leadership: Leadership | None):
        self.leadership = leadership
        self.role = ControllerRole(leadership is not None)
        self.terms_won = 0
        self.writes_withheld = 0          # write messages not sent while not master
        self.refused_as_slave: Counter = Counter()  # dpid -> IS_SLAVE errors (Ryu's LLDP)

    @property
    def enabled(self) -> bool:
        return self.leadership is not None

    def step_interval(self) -> float:
        """A master refreshes its lease every third of its life; a standby campaigns twice as
        often, so that it wins within a sixth of the lease after the key goes."""
        ttl = self.leadership.ttl_s
        return ttl / 3 if self.role.leading else ttl / 6

    def step(self, now: float, connected: Iterable[int]) -> tuple[bool, bool, list[Message]]:
        """One campaign step: (became master, stopped being master, the role requests to send)."""
        was_leading = self.role.leading
        term = self.leadership.step(now)
        became, messages = self.role.on_term(term, connected)
        if became:
            self.terms_won += 1
        return became, was_leading and not self.role.leading, messages

    def writes_allowed(self) -> bool:
        return self.role.writes_allowed()

    def standby_refusal(self) -> str:
        """Why an operator's write (policy, drain, pin, re-optimisation) is refused now, or ""
        where it is not: a standby decides and sends nothing, so a change it took would do
        nothing until it became master."""
        if self.role.writes_allowed():
            return ""
        return (f"this controller is a standby (master: {self.role.term.holder or 'none known'}): "
                "send writes to the master")

    def withhold(self, message) -> bool:
        """Whether `message` must not go (a write while not master); counted when so."""
        if self.role.writes_allowed() or not is_write(message):
            return False
        self.writes_withheld += 1
        return True

    def refused(self, dpid: int, kind: str, our_write: bool) -> tuple[bool, bool]:
        """A role error from a switch: (stop writing now, first of its kind from this switch:
        worth a log line). A stale role request, or a write of ours refused as from a slave,
        means a newer master exists; Ryu's own LLDP packet-outs refused while slave mean
        nothing (ryu.topology sends them on every switch whatever the role)."""
        if kind == STALE:
            return self.role.on_stale(), True
        self.refused_as_slave[dpid] += 1
        first = self.refused_as_slave[dpid] == 1
        if our_write and self.role.leading:
            return self.role.on_stale(), True
        return False, first

    def describe(self) -> dict:
        if not self.enabled:
            return {"enabled": False, "role": self.role.name()}
        leadership = self.leadership
        return {"enabled": True, "controller_id": leadership.instance_id, "role": self.role.name(),
                "holder": self.role.term.holder, "generation": self.role.term.generation,
                "leader_ttl": leadership.ttl_s, "terms_won": self.terms_won,
                "stale_refusals": self.role.stale_refusals,
                "refused_as_slave": sum(self.refused_as_slave.values()),
                "writes_withheld": self.writes_withheld, "etcd_problem": leadership.problem}
