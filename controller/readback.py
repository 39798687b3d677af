"""What a (re)connecting switch holds of qroute's, read back from its flow and group statistics.

A switch that reconnects (the controller restarted, or the connection dropped) keeps its rules
and groups: the controller asks for its qroute-cookied flows (``ofmsgs.app_flow_stats_request``)
and its groups (``ofmsgs.group_desc_request``) instead of deleting them, and
:func:`read_switch` turns the replies into the switch's part of a :class:`tunnels.Desired`
(:class:`SwitchEntries`), which :meth:`tunnels.InstalledTunnels.adopt` takes as installed. The
next plan then changes only what differs. Entries with qroute's cookie that are of no kind
qroute installs now (an older version's, or damaged) are returned as stale, to be deleted.

Each kind of entry has one parser in :data:`FLOW_KINDS` / :data:`GROUP_KINDS`: a function from
the parsed statistic to ``(field, key, value)`` (the field of :class:`SwitchEntries` it fills)
or None when it is not of that kind. A new kind of rule or group (e.g. fast-failover groups) is
one more parser and one more field.

:class:`ReadBack` collects the multipart replies of one read-back (until the last part) per
switch; it is plain state, the app feeds it.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from ryu.ofproto import ether
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import ofmsgs
from controller.group_ids import is_select_group_id, unfolded_egress

GROUP, PORT = "group", "port"  # as tunnels.GROUP / tunnels.PORT
VID_MASK = 0x0FFF


@dataclass
class SwitchEntries:
    """One switch's qroute entries, keyed as in :class:`tunnels.Desired` without the dpid:
    `tunnel_rules` label -> out port (None: egress), `groups` egress -> buckets, `classify`
    mac -> (GROUP, egress) | (PORT, port), `delivery` mac -> port, `protection` label -> the
    fast-failover group of the label's hop here (ofmsgs.Protection); `base`: the base rules
    found ((table, priority, match), instruction_signature); `stale_flows`: (table, priority, match fields) of
    qroute-cookied rules of no known kind; `stale_groups`: ids of groups of no known kind;
    `unresolved_groups`: id -> buckets of the select groups named after a switch not known
    (yet) (a folded id, :mod:`controller.group_ids`), left as they are with the rules sending
    to them;
    `epoch`: the newest epoch among the rules' cookies."""

    dpid: int
    tunnel_rules: dict[int, int | None] = field(default_factory=dict)
    groups: dict[int, tuple[ofmsgs.Bucket, ...]] = field(default_factory=dict)
    classify: dict[str, tuple[str, int]] = field(default_factory=dict)
    delivery: dict[str, int] = field(default_factory=dict)
    protection: dict[int, ofmsgs.Protection] = field(default_factory=dict)
    base: set = field(default_factory=set)
    stale_flows: list[tuple[int, int, dict]] = field(default_factory=list)
    stale_groups: list[int] = field(default_factory=list)
    unresolved_groups: dict[int, tuple[ofmsgs.Bucket, ...]] = field(default_factory=dict)
    epoch: int = 0

    def hosts(self) -> dict[str, int]:
        """mac -> port of the hosts this switch delivers to (its table-1 rules)."""
        return dict(self.delivery)

    def count(self) -> int:
        return (len(self.tunnel_rules) + len(self.groups) + len(self.classify)
                + len(self.delivery) + len(self.protection))


# --- actions, in words ----------------------------------------------------------------------
def _actions(instructions) -> tuple[list, list[int]]:
    """(apply-actions, goto-table ids) of a rule's instructions; anything else makes it unknown."""
    actions, gotos = [], []
    for inst in instructions:
        if isinstance(inst, parser.OFPInstructionActions) and inst.type == ofp.OFPIT_APPLY_ACTIONS:
            actions += list(inst.actions)
        elif isinstance(inst, parser.OFPInstructionGotoTable):
            gotos.append(inst.table_id)
        else:
            return [None], []
    return actions, gotos


def _single_output(actions) -> int | None:
    if len(actions) == 1 and isinstance(actions[0], parser.OFPActionOutput):
        return actions[0].port
    return None


# --- flow kinds -----------------------------------------------------------------------------
Parsed = tuple[str, object, object]  # (SwitchEntries field, key, value)


def _tunnel_label(stat) -> int | None:
    """The label a tunnel rule (table 0, tunnel priority, matching a VLAN id alone) is for."""
    match = dict(stat.match.items())
    vid = match.get("vlan_vid")
    if (stat.table_id, stat.priority) != (ofmsgs.TABLE_CLASSIFY, ofmsgs.PRIORITY_TUNNEL) or \
            set(match) != {"vlan_vid"} or not isinstance(vid, int) or not vid & ofp.OFPVID_PRESENT:
        return None
    label = vid & VID_MASK
    return label if ofmsgs.MIN_LABEL <= label <= ofmsgs.MAX_LABEL else None


def tunnel_rule(stat) -> Parsed | None:
    label = _tunnel_label(stat)
    if label is None:
        return None
    actions, gotos = _actions(stat.instructions)
    if gotos == [ofmsgs.TABLE_DELIVER] and len(actions) == 1 and \
            isinstance(actions[0], parser.OFPActionPopVlan):
        return "tunnel_rules", label, None
    port = _single_output(actions)
    if not gotos and port is not None and port <= ofp.OFPP_MAX:
        return "tunnel_rules", label, port
    return None


# a protected hop's out port is its fast-failover group's first bucket: known once groups are read
THROUGH_FF = "through its fast-failover group"


def protected_tunnel_rule(stat) -> Parsed | None:
    """A protected transit hop: match the label, send to the label's fast-failover group."""
    label = _tunnel_label(stat)
    if label is None:
        return None
    actions, gotos = _actions(stat.instructions)
    if gotos or len(actions) != 1 or not isinstance(actions[0], parser.OFPActionGroup) or \
            ofmsgs.ff_group_label(actions[0].group_id) != label:
        return None
    return "tunnel_rules", label, THROUGH_FF


def classify_rule(stat) -> Parsed | None:
    match = dict(stat.match.items())
    if (stat.table_id, stat.priority) != (ofmsgs.TABLE_CLASSIFY, ofmsgs.PRIORITY_CLASSIFY) or \
            set(match) != {"vlan_vid", "eth_dst"} or match["vlan_vid"] != ofmsgs.UNTAGGED or \
            not isinstance(match["eth_dst"], str):
        return None
    actions, gotos = _actions(stat.instructions)
    if gotos or len(actions) != 1:
        return None
    (action,) = actions
    if isinstance(action, parser.OFPActionGroup) and is_select_group_id(action.group_id):
        return "classify", match["eth_dst"], (GROUP, action.group_id)
    if isinstance(action, parser.OFPActionOutput) and action.port <= ofp.OFPP_MAX:
        return "classify", match["eth_dst"], (PORT, action.port)
    return None


def delivery_rule(stat) -> Parsed | None:
    match = dict(stat.match.items())
    if (stat.table_id, stat.priority) != (ofmsgs.TABLE_DELIVER, ofmsgs.PRIORITY_DELIVER) or \
            set(match) != {"eth_dst"} or not isinstance(match["eth_dst"], str):
        return None
    actions, gotos = _actions(stat.instructions)
    port = _single_output(actions)
    if gotos or port is None or port > ofp.OFPP_MAX:
        return None
    return "delivery", match["eth_dst"], port


def instruction_signature(instructions) -> tuple:
    """What a rule's instructions do, comparable between a rule built here and one parsed
    from a switch's reply."""
    return tuple((type(inst).__name__, getattr(inst, "type", None), getattr(inst, "table_id", None),
                  getattr(inst, "meter_id", None),
                  tuple((type(action).__name__,
                         tuple(sorted((k, v) for k, v in vars(action).items() if k != "len")))
                        for action in getattr(inst, "actions", ())))
                 for inst in instructions)


def base_rule(stat) -> Parsed | None:
    """A base rule is known by where it is and what it matches; what it does is compared
    with the base rule of today (:func:`missing_base_rules`)."""
    key = (stat.table_id, stat.priority, tuple(sorted(stat.match.items())))
    if key not in ofmsgs.base_rule_keys():
        return None
    return "base", (key, instruction_signature(stat.instructions)), True


FLOW_KINDS: list[Callable[[object], Parsed | None]] = [tunnel_rule, protected_tunnel_rule,
                                                        classify_rule, delivery_rule, base_rule]


# --- group kinds ----------------------------------------------------------------------------
def select_group(desc) -> Parsed | None:
    """A pair's select group: one bucket per tunnel, push a tag, set the label, send."""
    if desc.type != ofp.OFPGT_SELECT or not desc.buckets or not is_select_group_id(desc.group_id):
        return None
    buckets = []
    for bucket in desc.buckets:
        actions = list(bucket.actions)
        if len(actions) != 3 or bucket.weight < 1:
            return None
        push, set_vid, out = actions
        if not (isinstance(push, parser.OFPActionPushVlan) and push.ethertype == ether.ETH_TYPE_8021Q
                and isinstance(set_vid, parser.OFPActionSetField) and set_vid.key == "vlan_vid"):
            return None
        label = set_vid.value & VID_MASK
        if not set_vid.value & ofp.OFPVID_PRESENT or not ofmsgs.MIN_LABEL <= label <= ofmsgs.MAX_LABEL:
            return None
        if isinstance(out, parser.OFPActionOutput) and out.port <= ofp.OFPP_MAX:
            buckets.append((label, bucket.weight, out.port))
        elif isinstance(out, parser.OFPActionGroup) and ofmsgs.ff_group_label(out.group_id) == label:
            buckets.append((label, bucket.weight, THROUGH_FF))  # the port: its FF group's
        else:
            return None
    return "groups", desc.group_id, tuple(buckets)


def ff_group(desc) -> Parsed | None:
    """A protected hop's fast-failover group: out of the hop's port while it is live, else
    relabelled onto the backup tunnel (out of its first port, or back in where it turns back)."""
    label = ofmsgs.ff_group_label(desc.group_id)
    if desc.type != ofp.OFPGT_FF or label is None or len(desc.buckets) != 2:
        return None
    primary, backup = desc.buckets
    out = _single_output(list(primary.actions))
    if out is None or out > ofp.OFPP_MAX or primary.watch_port != out:
        return None
    actions = list(backup.actions)
    if len(actions) != 2 or not isinstance(actions[0], parser.OFPActionSetField) or \
            actions[0].key != "vlan_vid" or not isinstance(actions[1], parser.OFPActionOutput):
        return None
    backup_label, backup_port, leaves_by = (actions[0].value & VID_MASK, backup.watch_port,
                                            actions[1].port)
    if not actions[0].value & ofp.OFPVID_PRESENT or \
            not ofmsgs.MIN_LABEL <= backup_label <= ofmsgs.MAX_LABEL or backup_port > ofp.OFPP_MAX or \
            leaves_by not in (backup_port, ofp.OFPP_IN_PORT) or backup_port == out:
        return None
    return "protection", label, (out, backup_label, backup_port, leaves_by == ofp.OFPP_IN_PORT)


GROUP_KINDS: list[Callable[[object], Parsed | None]] = [select_group, ff_group]


def _first(kinds, item) -> Parsed | None:
    for kind in kinds:
        parsed = kind(item)
        if parsed is not None:
            return parsed
    return None


def read_switch(dpid: int, flow_stats: Iterable, group_descs: Iterable,
                egress_of: Callable[[int], int | None] = unfolded_egress) -> SwitchEntries:
    """The switch's qroute entries from its flow-stats (qroute's cookie) and group-desc
    replies' bodies (Ryu's parsed ``OFPFlowStats`` / ``OFPGroupDescStats``). ``egress_of``:
    the switch a select group id is named after (None: not known yet; the default knows the
    dpids that are their own group id)."""
    entries = SwitchEntries(dpid)
    for stat in flow_stats:
        if stat.cookie >> 32 != ofmsgs.APP_COOKIE:
            continue  # not ours (a switch ignoring the cookie filter): never touched
        entries.epoch = max(entries.epoch, stat.cookie & ofmsgs.EPOCH_MASK)
        parsed = _first(FLOW_KINDS, stat)
        if parsed is None:
            entries.stale_flows.append((stat.table_id, stat.priority, dict(stat.match.items())))
            continue
        name, key, value = parsed
        if name == "base":
            entries.base.add(key)
        else:
            getattr(entries, name)[key] = value
    for desc in group_descs:
        parsed = _first(GROUP_KINDS, desc)
        if parsed is None:
            entries.stale_groups.append(desc.group_id)
            continue
        name, key, value = parsed
        getattr(entries, name)[key] = value
    _resolve_through_ff(entries)
    # deleting a group takes the rules sending to it: those cannot be counted as installed
    for mac, (kind, where) in list(entries.classify.items()):
        if kind == GROUP and where in entries.stale_groups:
            del entries.classify[mac]
            entries.stale_flows.append((ofmsgs.TABLE_CLASSIFY, ofmsgs.PRIORITY_CLASSIFY,
                                        {"vlan_vid": ofmsgs.UNTAGGED, "eth_dst": mac}))
    _name_egresses(entries, egress_of)
    return entries


def _name_egresses(entries: SwitchEntries, egress_of: Callable[[int], int | None]) -> None:
    """Select groups and the rules sending to them keyed by egress switch instead of group id;
    a group whose egress is not known is left out with those rules (unresolved: neither adopted
    nor deleted, read again once a switch claims its id)."""
    groups, entries.groups = entries.groups, {}
    for group_id, buckets in groups.items():
        egress = egress_of(group_id)
        if egress is None:
            entries.unresolved_groups[group_id] = buckets
        else:
            entries.groups[egress] = buckets
    for mac, (kind, where) in list(entries.classify.items()):
        if kind == GROUP:
            egress = egress_of(where)
            if egress is None:
                del entries.classify[mac]
            else:
                entries.classify[mac] = (GROUP, egress)


def _resolve_through_ff(entries: SwitchEntries) -> None:
    """A hop sent through a fast-failover group goes out of that group's first port; one whose
    group is missing or of no known kind is stale (a select group with such a bucket: the
    whole group, with the rules sending to it)."""
    ports = {label: spec[0] for label, spec in entries.protection.items()}
    for label, port in list(entries.tunnel_rules.items()):
        if port == THROUGH_FF:
            if label in ports:
                entries.tunnel_rules[label] = ports[label]
            else:
                del entries.tunnel_rules[label]
                entries.stale_flows.append((ofmsgs.TABLE_CLASSIFY, ofmsgs.PRIORITY_TUNNEL,
                                            {"vlan_vid": ofmsgs.tagged(label)}))
    for group_id, buckets in list(entries.groups.items()):  # (keyed by id until named)
        if any(port == THROUGH_FF and label not in ports for label, _, port in buckets):
            del entries.groups[group_id]
            entries.stale_groups.append(group_id)
        else:
            entries.groups[group_id] = tuple((label, weight, ports[label] if port == THROUGH_FF else port)
                                           for label, weight, port in buckets)


def missing_base_rules(entries: SwitchEntries, rules: list | None = None) -> list:
    """The base rules (`rules`, default :func:`ofmsgs.base_rules`) the switch lacks or holds
    doing something else: only those are added, so that the ones in place keep their counters."""
    return [(entries.dpid, mod) for mod in (ofmsgs.base_rules() if rules is None else rules)
            if ((mod.table_id, mod.priority, tuple(sorted(mod.match.items()))),
                instruction_signature(mod.instructions)) not in entries.base]


def stale_deletions(entries: SwitchEntries) -> list:
    """Messages deleting the switch's qroute entries of no known kind: rules first, then
    groups (no known rule points at an unknown group: such a rule is not of a known kind)."""
    messages = [(entries.dpid, ofmsgs.delete_flow_strict(table, priority, match))
                for table, priority, match in entries.stale_flows]
    for group_id in entries.stale_groups:
        label = ofmsgs.ff_group_label(group_id)
        if label is not None:
            messages.append((entries.dpid, ofmsgs.ff_group_delete(label)))
        elif is_select_group_id(group_id):
            messages.append((entries.dpid, ofmsgs.group_delete_id(group_id)))
    return messages


# --- collecting multipart replies -----------------------------------------------------------
@dataclass
class _Pending:
    flow_xid: int | None
    group_xid: int | None
    requested_at: float
    flows: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    flows_done: bool = False
    groups_done: bool = False


@dataclass
class SwitchSync:
    """One switch's read-back, as the REST view shows it."""

    connected_at: float
    requested_at: float | None = None
    read_back_at: float | None = None
    entries: int = 0
    stale: int = 0
    reads: int = 0
    failed: str = ""


class ReadBack:
    """Read-backs in progress and done, per switch: :meth:`requested` when the two requests
    went out (with their xids), :meth:`flow_reply` / :meth:`group_reply` for each part, which
    return the switch's :class:`SwitchEntries` once both replies are complete."""

    def __init__(self, egress_of: Callable[[int], int | None] = unfolded_egress):
        """``egress_of``: the switch a select group id is named after (see :func:`read_switch`)."""
        self.egress_of = egress_of
        self.pending: dict[int, _Pending] = {}
        self.sync: dict[int, SwitchSync] = {}

    def connected(self, dpid: int, now: float) -> None:
        self.sync[dpid] = SwitchSync(connected_at=now)
        self.pending.pop(dpid, None)

    def left(self, dpid: int) -> None:
        self.pending.pop(dpid, None)
        self.sync.pop(dpid, None)

    def requested(self, dpid: int, flow_xid: int | None, group_xid: int | None, now: float) -> None:
        self.pending[dpid] = _Pending(flow_xid, group_xid, now)
        sync = self.sync.setdefault(dpid, SwitchSync(connected_at=now))
        sync.requested_at, sync.read_back_at = now, None

    def is_reading(self, dpid: int) -> bool:
        return dpid in self.pending

    def flow_reply(self, dpid: int, xid: int, body, more: bool, now: float) -> SwitchEntries | None:
        pending = self.pending.get(dpid)
        if pending is None or pending.flow_xid not in (None, xid):
            return None  # a reply to an older read-back
        pending.flows += list(body)
        pending.flows_done = not more
        return self._done(dpid, now)

    def group_reply(self, dpid: int, xid: int, body, more: bool, now: float) -> SwitchEntries | None:
        pending = self.pending.get(dpid)
        if pending is None or pending.group_xid not in (None, xid):
            return None
        pending.groups += list(body)
        pending.groups_done = not more
        return self._done(dpid, now)

    def _done(self, dpid: int, now: float) -> SwitchEntries | None:
        pending = self.pending[dpid]
        if not (pending.flows_done and pending.groups_done):
            return None
        del self.pending[dpid]
        entries = read_switch(dpid, pending.flows, pending.groups, self.egress_of)
        sync = self.sync.setdefault(dpid, SwitchSync(connected_at=now))
        sync.read_back_at, sync.reads = now, sync.reads + 1
        sync.entries = entries.count()
        sync.stale = len(entries.stale_flows) + len(entries.stale_groups)
        return entries

    def give_up(self, now: float, timeout_s: float) -> list[int]:
        """Switches whose read-back has waited longer than `timeout_s`: no longer waited for
        (they are taken as holding nothing of qroute's, which the next plan fills)."""
        late = [dpid for dpid, p in self.pending.items() if now - p.requested_at >= timeout_s]
        for dpid in late:
            del self.pending[dpid]
            self.sync[dpid].failed = f"no complete read-back reply within {timeout_s:g} s"
        return late

    def view(self, now: float) -> dict[str, dict]:
        """The REST view: per switch, whether it is read back, when, and what was found."""
        out = {}
        for dpid, sync in sorted(self.sync.items()):
            out[str(dpid)] = {
                "state": ("reading" if dpid in self.pending else
                          "failed" if sync.failed else
                          "read back" if sync.read_back_at is not None else "connected"),
                "connected_s_ago": round(now - sync.connected_at, 3),
                "read_back_in_s": (None if sync.read_back_at is None or sync.requested_at is None
                                   else round(sync.read_back_at - sync.requested_at, 3)),
                "entries": sync.entries, "stale_deleted": sync.stale, "reads": sync.reads,
                "problem": sync.failed}
        return out


# --- the start-up hold ----------------------------------------------------------------------
@dataclass
class UnnamedGroups:
    """The select groups switches were read back holding under folded ids that no connected
    switch is named by yet (:mod:`controller.group_ids`): switch -> id -> buckets. One record
    for the three things that depend on them: decisions wait while the start-up hold lasts
    (:meth:`StartupHold.reason`), the labels their buckets push are not given to new tunnels
    (:meth:`tunnels.InstalledTunnels.held_labels`), and the switch is read again once the
    switch a group is named after connects (or the groups go)."""

    by_switch: dict[int, dict[int, tuple[ofmsgs.Bucket, ...]]] = field(default_factory=dict)
    read_at: dict[int, float] = field(default_factory=dict)  # switch -> when it was read back

    def read_back(self, entries: SwitchEntries, now: float) -> None:
        """A switch's read-back replaces what was known of its unnamed groups."""
        self.forget(entries.dpid)
        if entries.unresolved_groups:
            self.by_switch[entries.dpid] = dict(entries.unresolved_groups)
            self.read_at[entries.dpid] = now

    def forget(self, dpid: int) -> None:
        """The switch left, or its groups were deleted."""
        self.by_switch.pop(dpid, None)
        self.read_at.pop(dpid, None)

    def overdue(self, now: float, timeout_s: float, not_before: float) -> list[int]:
        """The switches whose unnamed groups have waited `timeout_s` since they were read back
        and since `not_before` (the end of the start-up hold)."""
        return sorted(dpid for dpid, at in self.read_at.items() if now - max(at, not_before) >= timeout_s)

    def holding(self, group_id: int) -> list[int]:
        """The switches holding a group of that id."""
        return sorted(dpid for dpid, groups in self.by_switch.items() if group_id in groups)

    def ids(self, dpids: Collection[int] | None = None) -> list[tuple[int, int]]:
        """(switch, group id) of every unnamed group, or of those of `dpids`."""
        return sorted((dpid, group_id) for dpid, groups in self.by_switch.items()
                      if dpids is None or dpid in dpids for group_id in groups)

    def labels(self) -> set[int]:
        """The labels their buckets push."""
        return {spec[0] for groups in self.by_switch.values() for buckets in groups.values()
                for spec in buckets}

    def __bool__(self) -> bool:
        return bool(self.by_switch)


@dataclass
class StartupHold:
    """No decision may change rules from `started` until a switch was read back, the
    `switches` a restarted controller expects (the state file's, and those read-back rules
    point at) are read back and the `links` and `ports` their tunnels use are known, or
    `timeout_s` passed; and never while a connected switch is being read back (its record is
    not known yet)."""

    started: float
    timeout_s: float
    switches: set[int] = field(default_factory=set)
    links: set = field(default_factory=set)
    ports: set = field(default_factory=set)   # (dpid, port) a read-back tunnel leaves by
    ended_at: float | None = None

    def expect(self, entries: SwitchEntries) -> None:
        """What a read-back switch's rules point at must be known too before anything is
        decided (without a state file this is all there is to go by): the egress switches of
        its groups (their hosts are known from their delivery rules; a group named by a
        folded id no connected switch claims yet waits for one that does) and the links out
        of the ports its tunnels leave by."""
        self.switches |= set(entries.groups) | {
            where for kind, where in entries.classify.values() if kind == GROUP}
        self.ports |= {(entries.dpid, port) for port in entries.tunnel_rules.values() if port is not None}
        self.ports |= {(entries.dpid, port) for buckets in entries.groups.values() for _, _, port in buckets}

    def reason(self, now: float, read_back: Collection[int], reading: Collection[int],
               known_links: Collection, linked_ports: Collection = (),
               unnamed: Collection[tuple[int, int]] = ()) -> str:
        """Why decisions wait now ("" when they need not); `linked_ports`: the (dpid, port)
        ends of the known links; `unnamed`: (switch, group id) of the read-back select groups
        no connected switch is named by yet (:meth:`UnnamedGroups.ids`)."""
        if reading:
            return f"reading back switch {', '.join(str(d) for d in sorted(reading))}"
        if self.ended_at is not None:
            return ""
        if now - self.started >= self.timeout_s:
            return ""
        if not read_back:  # without a state file the first switches read back say what to expect
            return "waiting for a switch to connect and be read back"
        missing = sorted(set(self.switches) - set(read_back))
        if missing:
            return (f"waiting for switch {', '.join(str(d) for d in missing)} of the state file "
                    f"to connect and be read back")
        if unnamed:
            return ("waiting for the switches named by select groups "
                    f"{', '.join(f'{g:#x} on {d:016x}' for d, g in sorted(unnamed))} to connect and be "
                    "read back")
        links = sorted(set(self.links) - set(known_links))
        if links:
            return f"waiting for link {', '.join(f'{a}-{b}' for a, b in links)} of the state file"
        ports = sorted(set(self.ports) - set(linked_ports))
        if ports:
            return (f"waiting for the links at {', '.join(f's{d} port {p}' for d, p in ports)}, "
                    f"which read-back tunnels use")
        return ""
