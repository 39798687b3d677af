"""OpenFlow errors tied to what caused them: what was sent to each switch under which xid, an
error's type and code as OpenFlow names them, the record of installed tunnels corrected to what
the switch refused, and the pairs whose rules were refused with their retries.

Pure: messages, records and ``now`` go in; descriptions, records and decisions come out.

A switch answers a request it cannot carry out with an error carrying the request's xid, so the
controller keeps, per switch, a bounded record of the xids it used and what each message was
(:class:`SentLog`). A refused rule or group leaves its pair not (fully) installed; the record of
installed tunnels stops claiming the refused entry (:func:`forget_refused`), so that the next
plan sends it again, and :class:`RefusedPairs` decides what the pair gets meanwhile: first the
single shortest path (the fewest rules: one tunnel), retried with exponential backoff, and after
MAX_RETRIES more refusals nothing until the network changes.
"""
from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import ofmsgs
from controller.group_ids import unfolded_egress
from controller.splits import Pair, Split, SwitchPath

MAX_SENT_PER_SWITCH = 4096  # xids remembered per switch (a switch answers within seconds)
MAX_RETRIES = 3             # refusals of the single-path fallback before a pair is given up
RETRY_BACKOFF_S = 1.0       # before the second fallback try; doubled for each one after it

TUNNEL, CLASSIFY, DELIVERY, GROUP, OTHER = "tunnel rule", "classify rule", "delivery rule", "group", "other"
ADD, MODIFY, DELETE = "add", "modify", "delete"

# each error type's code constants share a prefix (OpenFlow 1.3 section 7.4.4)
_CODE_PREFIX = {ofp.OFPET_HELLO_FAILED: "OFPHFC_", ofp.OFPET_BAD_REQUEST: "OFPBRC_",
                ofp.OFPET_BAD_ACTION: "OFPBAC_", ofp.OFPET_BAD_INSTRUCTION: "OFPBIC_",
                ofp.OFPET_BAD_MATCH: "OFPBMC_", ofp.OFPET_FLOW_MOD_FAILED: "OFPFMFC_",
                ofp.OFPET_GROUP_MOD_FAILED: "OFPGMFC_", ofp.OFPET_PORT_MOD_FAILED: "OFPPMFC_",
                ofp.OFPET_TABLE_MOD_FAILED: "OFPTMFC_", ofp.OFPET_QUEUE_OP_FAILED: "OFPQOFC_",
                ofp.OFPET_SWITCH_CONFIG_FAILED: "OFPSCFC_",
                ofp.OFPET_ROLE_REQUEST_FAILED: "OFPRRFC_", ofp.OFPET_METER_MOD_FAILED: "OFPMMFC_",
                ofp.OFPET_TABLE_FEATURES_FAILED: "OFPTFFC_"}


def _constants(prefix: str) -> dict[int, str]:
    return {getattr(ofp, name): name for name in sorted(dir(ofp))
            if name.startswith(prefix) and isinstance(getattr(ofp, name), int)}


_TYPE_NAMES = _constants("OFPET_")
_CODE_NAMES = {error_type: _constants(prefix) for error_type, prefix in _CODE_PREFIX.items()}
_MESSAGE_NAMES = _constants("OFPT_")


def error_names(error_type: int, code: int) -> tuple[str, str]:
    """OpenFlow's names of an error type and code, e.g. ("OFPET_FLOW_MOD_FAILED",
    "OFPFMFC_TABLE_FULL"); numbers a switch made up are named as such ("type 99", "code 7")."""
    type_name = _TYPE_NAMES.get(error_type, f"type {error_type}")
    if error_type == ofp.OFPET_EXPERIMENTER:
        return type_name, f"experimenter code {code}"
    return type_name, _CODE_NAMES.get(error_type, {}).get(code, f"code {code}")


def offending_header(data: bytes) -> str:
    """What an error's data says of the request it refers to (a switch echoes at least its
    first 64 bytes): its message type and xid, or "" when too short to tell."""
    if len(data or b"") < 8:
        return ""
    _, msg_type, _, xid = struct.unpack_from("!BBHI", bytes(data))
    return f"{_MESSAGE_NAMES.get(msg_type, f'message type {msg_type}')} xid {xid}"


# --- what was sent ------------------------------------------------------------------------
@dataclass(frozen=True)
class Sent:
    """One message sent to a switch: `kind` (TUNNEL, CLASSIFY, DELIVERY, GROUP or OTHER),
    `command` (ADD, MODIFY, DELETE, or the message type for OTHER), `key` (the record's key of
    the entry: (dpid, label), (dpid, mac), the group's (ingress, egress) pair, or ()), `pairs`
    it serves, the `epoch` of the decision that sent it, and `text` for people."""

    kind: str
    command: str
    key: tuple = ()
    pairs: tuple[Pair, ...] = ()
    epoch: int = 0
    text: str = ""


def _flow_command(mod) -> str:
    return DELETE if mod.command in (ofp.OFPFC_DELETE, ofp.OFPFC_DELETE_STRICT) else ADD


def _group_of(mod) -> int | None:
    for instruction in mod.instructions or ():
        for action in getattr(instruction, "actions", ()) or ():
            if isinstance(action, parser.OFPActionGroup):
                return action.group_id
    return None


def _match(mod, name):
    try:
        return mod.match[name]
    except KeyError:
        return None


def describe_sent(dpid: int, msg, paths_by_label: Mapping[int, SwitchPath],
                  splits: Mapping[Pair, Split], epoch: int,
                  egress_of: Callable[[int], int | None] = unfolded_egress) -> Sent:
    """What ``msg`` to switch ``dpid`` is in qroute's terms. ``paths_by_label``: the tunnels
    by label and ``splits`` the pairs of the decision it belongs to (or of the record);
    ``egress_of``: the switch a select group id is named after."""
    if isinstance(msg, parser.OFPGroupMod):
        command = {ofp.OFPGC_ADD: ADD, ofp.OFPGC_MODIFY: MODIFY}.get(msg.command, DELETE)
        egress = egress_of(msg.group_id)
        if egress is None:
            which = "every group" if msg.group_id == ofp.OFPG_ALL else f"group {msg.group_id:#x}"
            return Sent(GROUP, command, (), (), epoch, f"{which} {command}")
        pair = (dpid, egress)
        return Sent(GROUP, command, pair, (pair,), epoch,
                    f"select group {msg.group_id} (pair {dpid}-{egress}) {command}")
    if isinstance(msg, parser.OFPFlowMod):
        command = _flow_command(msg)
        vid, eth_dst = _match(msg, "vlan_vid"), _match(msg, "eth_dst")
        if msg.table_id == ofmsgs.TABLE_CLASSIFY and msg.priority == ofmsgs.PRIORITY_TUNNEL and vid:
            label = (vid[0] if isinstance(vid, tuple) else vid) & ~ofp.OFPVID_PRESENT
            path = paths_by_label.get(label)
            pairs = ((path[0], path[-1]),) if path else ()
            where = f" (path {'-'.join(map(str, path))})" if path else ""
            return Sent(TUNNEL, command, (dpid, label), pairs, epoch,
                        f"tunnel rule for label {label}{where} {command}")
        if msg.table_id == ofmsgs.TABLE_CLASSIFY and msg.priority == ofmsgs.PRIORITY_CLASSIFY and eth_dst:
            group = _group_of(msg)
            egress = egress_of(group) if group is not None else None
            pairs = ((dpid, egress),) if egress is not None else ()
            into = f" into group {group}" if group is not None else ""
            return Sent(CLASSIFY, command, (dpid, eth_dst), pairs, epoch,
                        f"classify rule for {eth_dst}{into} {command}")
        if msg.table_id == ofmsgs.TABLE_DELIVER and msg.priority == ofmsgs.PRIORITY_DELIVER and eth_dst:
            pairs = tuple(sorted(pair for pair in splits if pair[1] == dpid))
            return Sent(DELIVERY, command, (dpid, eth_dst), pairs, epoch,
                        f"delivery rule for {eth_dst} {command}")
        return Sent(OTHER, command, (), (), epoch,
                    f"flow mod {command} table {msg.table_id} priority {msg.priority}")
    return Sent(OTHER, type(msg).__name__, (), (), epoch, type(msg).__name__)


class SentLog:
    """The last MAX_SENT_PER_SWITCH messages sent to each switch, by xid."""

    def __init__(self, per_switch: int = MAX_SENT_PER_SWITCH):
        self.per_switch = per_switch
        self._sent: dict[int, OrderedDict[int, Sent]] = {}

    def record(self, dpid: int, xid: int, sent: Sent) -> None:
        log = self._sent.setdefault(dpid, OrderedDict())
        log[xid] = sent
        log.move_to_end(xid)
        while len(log) > self.per_switch:
            log.popitem(last=False)

    def lookup(self, dpid: int, xid: int) -> Sent | None:
        return self._sent.get(dpid, {}).get(xid)

    def forget_switch(self, dpid: int) -> None:
        self._sent.pop(dpid, None)

    def __len__(self) -> int:
        return sum(len(log) for log in self._sent.values())


# --- the record of what is installed --------------------------------------------------------
def forget_refused(record, sent: Sent):
    """``record`` (a tunnels.Desired) without what the switch refused, so that the next plan
    sends it again: a refused rule is no longer claimed; a refused group add is not claimed
    (its pair's split neither); a refused group modify leaves the group claimed with no known
    buckets (the next plan modifies it again) and its pair's split unclaimed. Refused deletes
    and messages that are not entries of the record leave it as it is."""
    if sent.command == DELETE or not sent.key:
        return record
    if sent.kind == TUNNEL and sent.key in record.tunnel_rules:
        rules = {key: port for key, port in record.tunnel_rules.items() if key != sent.key}
        return replace(record, tunnel_rules=rules)
    if sent.kind in (CLASSIFY, DELIVERY):
        name = "classify" if sent.kind == CLASSIFY else "delivery"
        entries = getattr(record, name)
        if sent.key in entries:
            return replace(record, **{name: {key: value for key, value in entries.items()
                                              if key != sent.key}})
        return record
    if sent.kind == GROUP and sent.key in record.groups:
        groups = {pair: buckets for pair, buckets in record.groups.items() if pair != sent.key}
        if sent.command == MODIFY:
            groups[sent.key] = ()
        splits = {pair: split for pair, split in record.splits.items() if pair != sent.key}
        return replace(record, groups=groups, splits=splits)
    return record


# --- refused pairs --------------------------------------------------------------------------
@dataclass
class Refusal:
    """A pair whose rules a switch refused: the last error (`error`, from `epoch`'s decision),
    the refusals counted (one per decision), when the pair may be tried again, and whether it
    was given up."""

    error: str
    epoch: int
    refusals: int = 1
    retry_at: float = 0.0
    given_up: bool = False
    installed: bool = False  # the last try sent it and no error came back (yet)


@dataclass
class RefusedPairs:
    """Pairs whose rules were refused, and what each gets in the next decisions: after the
    first refusal the single shortest path at once; after the n-th (n >= 2) nothing until
    ``backoff_s * 2**(n-2)`` seconds have passed, then the single path again; once the single
    path was refused ``max_retries`` times, nothing, until :meth:`reset` (a switch connected or
    a link came up: there may be room, or another path)."""

    max_retries: int = MAX_RETRIES
    backoff_s: float = RETRY_BACKOFF_S
    pairs: dict[Pair, Refusal] = field(default_factory=dict)

    def refused(self, pairs: Iterable[Pair], error: str, epoch: int, now: float) -> list[Pair]:
        """Count a refusal of ``pairs``' rules sent by decision ``epoch`` (several errors of
        one decision count once); returns the pairs counted anew."""
        counted = []
        for pair in pairs:
            known = self.pairs.get(pair)
            if known is None:
                self.pairs[pair] = Refusal(error, epoch, retry_at=now)
            elif epoch > known.epoch:
                known.refusals += 1
                known.error, known.epoch, known.installed = error, epoch, False
                if known.refusals > self.max_retries:
                    known.given_up = True
                known.retry_at = now + self.backoff_s * 2 ** (known.refusals - 2)
            else:
                known.error = error
                known.installed = False
                continue
            counted.append(pair)
        return counted

    def sent(self, pairs: Iterable[Pair], epoch: int) -> None:
        """Decision ``epoch`` sent ``pairs``' rules; pairs refused by an earlier decision count
        as installed until an error of this one says otherwise."""
        for pair in pairs:
            known = self.pairs.get(pair)
            if known is not None and known.epoch < epoch:
                known.installed = True

    def adjust(self, decided: Mapping[Pair, Split], fallback: Mapping[Pair, Split],
               now: float) -> dict[Pair, Split]:
        """``decided`` with every refused pair on ``fallback``'s split (the single shortest
        path) when it may be tried, and left out when given up or waiting for its retry."""
        adjusted = dict(decided)
        for pair, known in self.pairs.items():
            if pair not in adjusted:
                continue
            if known.given_up or (now < known.retry_at and not known.installed):
                del adjusted[pair]
            elif pair in fallback:
                adjusted[pair] = fallback[pair]
        return adjusted

    def next_retry(self, now: float) -> float | None:
        """Seconds until the earliest pair waiting for a retry may be tried (None: none waits)."""
        waiting = [known.retry_at - now for known in self.pairs.values()
                   if not known.given_up and not known.installed]
        return max(0.0, min(waiting)) if waiting else None

    def not_installed(self) -> dict[Pair, Refusal]:
        return {pair: known for pair, known in self.pairs.items() if not known.installed}

    def keep_only(self, pairs: Sequence[Pair]) -> None:
        """Forget pairs that no longer exist (a host left)."""
        alive = set(pairs)
        for pair in [pair for pair in self.pairs if pair not in alive]:
            del self.pairs[pair]

    def reset(self) -> None:
        self.pairs.clear()
