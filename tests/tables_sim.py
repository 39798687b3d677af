"""A small OpenFlow 1.3 switch-table simulator for the tests: replays serialised flow-mods and
group-mods, then walks a frame through tables 0 and 1 and the select groups hop by hop over the
topology's links, taking every bucket of every select group it meets and, of a fast-failover
group, the first bucket whose watched port is live (links can be taken down: `set_down`).

Each message is serialised through `tests.fakes.FakeDatapath` (so a malformed one fails where it
is applied) and read back from its bytes: flow-mods by Ryu's own parser, group-mods (which Ryu
cannot parse as a message) by their OpenFlow 1.3 layout and Ryu's bucket parser. The switch
semantics follow the specification where qroute relies on them: ADD replaces an entry of the
same table, priority and match; DELETE_STRICT removes that entry when the cookie matches under
the mask; DELETE removes every entry the cookie matches; a group ADD of an existing group or a
MODIFY of a missing one is an error, and so is a flow or bucket pointing at a missing group;
deleting a group removes the flows that point at it, and deleting one that another group's
bucket points at is refused here (the plan must never do it); a table miss without an entry
drops; a frame sent onto a down link is lost.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.group_ids import select_group_id
from controller.ofmsgs import ff_group_id
from tests.fakes import FakeDatapath, reparse

MAX_HOPS = 64


class SwitchError(AssertionError):
    """A message a real switch would refuse with an error."""


@dataclass
class Entry:
    table_id: int
    priority: int
    match: dict
    cookie: int
    instructions: list

    @property
    def key(self):
        return (self.table_id, self.priority, tuple(sorted(self.match.items())))


@dataclass
class Switch:
    flows: dict = field(default_factory=dict)      # Entry.key -> Entry
    groups: dict = field(default_factory=dict)     # group id -> (type, [OFPBucket])


@dataclass(frozen=True)
class Outcome:
    kind: str                  # "host" (out of a port without a link), "controller", "drop",
                               # "loop", "lost" (sent onto a down link)
    dpid: int
    port: int | None
    path: tuple[int, ...]      # switches the frame went through
    vid: int | None            # its VLAN id as it left (None: untagged)


def _group_mod_from_bytes(buf: bytes):
    _, _, msg_len, _ = struct.unpack_from("!BBHI", buf, 0)
    command, group_type, group_id = struct.unpack_from(ofp.OFP_GROUP_MOD_PACK_STR, buf, ofp.OFP_HEADER_SIZE)
    buckets, offset = [], ofp.OFP_GROUP_MOD_SIZE
    while offset < msg_len:
        bucket = parser.OFPBucket.parser(buf, offset)
        buckets.append(bucket)
        offset += bucket.len
    return command, group_type, group_id, buckets


def _flow_groups(entry: Entry) -> set[int]:
    return {action.group_id for inst in entry.instructions for action in getattr(inst, "actions", ())
            if isinstance(action, parser.OFPActionGroup)}


def _bucket_groups(buckets) -> set[int]:
    return {action.group_id for bucket in buckets for action in bucket.actions
            if isinstance(action, parser.OFPActionGroup)}


class TableSim:
    """Switches joined by `links` ({(a, b): (port on a, port on b)}, directed)."""

    def __init__(self, links: dict[tuple[int, int], tuple[int, int]]):
        self.links = dict(links)
        self.switches: dict[int, Switch] = {}
        self.datapaths: dict[int, FakeDatapath] = {}
        self.log: list = []
        self.down: set[tuple[int, int]] = set()   # directed links down (both ways for a cable)

    def set_down(self, *cables: tuple[int, int]) -> None:
        """These cables (both directions) are down: their ports are not live, frames are lost."""
        self.down = {link for a, b in cables for link in ((a, b), (b, a))}

    def port_live(self, dpid: int, port: int) -> bool:
        return not any((here == dpid and ports[0] == port) or (there == dpid and ports[1] == port)
                       for (here, there), ports in self.links.items() if (here, there) in self.down)

    def switch(self, dpid: int) -> Switch:
        return self.switches.setdefault(dpid, Switch())

    def wipe(self, dpid: int) -> None:
        """The switch restarted: it holds nothing."""
        self.switches[dpid] = Switch()

    # --- applying messages ----------------------------------------------------------------
    def apply(self, messages, strict: bool = True) -> list[SwitchError]:
        """Apply each (dpid, message) in order. A message a switch would refuse raises, or with
        ``strict=False`` is skipped (as a switch answers it with an error and goes on) and
        returned."""
        errors = []
        for dpid, msg in messages:
            try:
                self._apply_one(dpid, msg)
            except SwitchError as error:
                if strict:
                    raise
                errors.append(error)
        return errors

    def _apply_one(self, dpid: int, msg) -> None:
        datapath = self.datapaths.setdefault(dpid, FakeDatapath(dpid, self.log))
        if msg.buf is None:  # not sent yet: serialise it as Ryu would
            msg.datapath = datapath
            datapath.send_msg(msg)
        raw = bytes(msg.buf)  # one an app already sent is read from the bytes it went out as
        if raw[1] == ofp.OFPT_FLOW_MOD:
            self._flow_mod(self.switch(dpid), reparse(datapath, msg))
        elif raw[1] == ofp.OFPT_GROUP_MOD:
            self._group_mod(self.switch(dpid), *_group_mod_from_bytes(raw))
        else:
            raise AssertionError(f"the simulator does not apply {type(msg).__name__}")

    def _flow_mod(self, switch: Switch, mod) -> None:
        match = dict(mod.match.items())
        entry = Entry(mod.table_id, mod.priority, match, mod.cookie, mod.instructions)
        cookie_matches = lambda e: (e.cookie & mod.cookie_mask) == (mod.cookie & mod.cookie_mask)  # noqa: E731
        if mod.command == ofp.OFPFC_ADD:
            for group_id in _flow_groups(entry):
                if group_id not in switch.groups:
                    raise SwitchError(f"flow {match} points at missing group {group_id}")
            switch.flows[entry.key] = entry
        elif mod.command == ofp.OFPFC_DELETE_STRICT:
            old = switch.flows.get(entry.key)
            if old is not None and cookie_matches(old):
                del switch.flows[entry.key]
        elif mod.command == ofp.OFPFC_DELETE:
            assert not match, "the simulator deletes non-strictly with an empty match only"
            for key, old in list(switch.flows.items()):
                if mod.table_id in (ofp.OFPTT_ALL, old.table_id) and cookie_matches(old):
                    del switch.flows[key]
        else:
            raise AssertionError(f"flow-mod command {mod.command}")

    def _group_mod(self, switch: Switch, command, group_type, group_id, buckets) -> None:
        if command in (ofp.OFPGC_ADD, ofp.OFPGC_MODIFY):
            missing = _bucket_groups(buckets) - set(switch.groups)
            if missing:
                raise SwitchError(f"group {group_id}'s buckets point at missing groups {missing}")
        if command == ofp.OFPGC_ADD:
            if group_id in switch.groups:
                raise SwitchError(f"group {group_id} exists (OFPGMFC_GROUP_EXISTS)")
            switch.groups[group_id] = (group_type, buckets)
        elif command == ofp.OFPGC_MODIFY:
            if group_id not in switch.groups:
                raise SwitchError(f"group {group_id} unknown (OFPGMFC_UNKNOWN_GROUP)")
            switch.groups[group_id] = (group_type, buckets)
        elif command == ofp.OFPGC_DELETE:
            gone = set(switch.groups) if group_id == ofp.OFPG_ALL else {group_id}
            users = {gid for gid, (_, others) in switch.groups.items()
                     if gid not in gone and _bucket_groups(others) & gone}
            if users:
                raise SwitchError(f"group {group_id} deleted while groups {users} point at it")
            for gid in gone:
                switch.groups.pop(gid, None)
            for key, entry in list(switch.flows.items()):
                if _flow_groups(entry) & gone:
                    del switch.flows[key]
        else:
            raise AssertionError(f"group-mod command {command}")

    # --- walking frames -------------------------------------------------------------------
    def walk(self, dpid: int, in_port: int, eth_dst: str, eth_type: int = 0x0800) -> list[Outcome]:
        """Where an untagged frame entering `dpid` at `in_port` ends, once per bucket choice."""
        return self._table(dpid, in_port, None, eth_dst, eth_type, 0, (dpid,))

    def _lookup(self, dpid, table_id, in_port, vid, eth_dst, eth_type):
        fields = {"in_port": in_port, "eth_type": eth_type, "eth_dst": eth_dst,
                  "vlan_vid": ofp.OFPVID_NONE if vid is None else ofp.OFPVID_PRESENT | vid}
        best = None
        for entry in self.switch(dpid).flows.values():
            if entry.table_id != table_id:
                continue
            if any(isinstance(value, tuple) for value in entry.match.values()):
                raise AssertionError(f"masked match {entry.match} not simulated")
            if all(fields.get(name) == value for name, value in entry.match.items()):
                if best is None or entry.priority > best.priority:
                    best = entry
        return best

    def _table(self, dpid, in_port, vid, eth_dst, eth_type, table_id, path) -> list[Outcome]:
        if len(path) > MAX_HOPS:
            return [Outcome("loop", dpid, None, path, vid)]
        entry = self._lookup(dpid, table_id, in_port, vid, eth_dst, eth_type)
        if entry is None:
            return [Outcome("drop", dpid, None, path, vid)]
        outcomes, goto = [], None
        for inst in entry.instructions:
            if isinstance(inst, parser.OFPInstructionActions):
                vid, results = self._actions(dpid, in_port, inst.actions, vid, eth_dst, eth_type,
                                             path)
                outcomes += results
            elif isinstance(inst, parser.OFPInstructionGotoTable):
                goto = inst.table_id
            elif isinstance(inst, parser.OFPInstructionMeter):
                pass  # a rate limit: what passes it goes on, and rates are not simulated
            else:
                raise AssertionError(f"instruction {inst} not simulated")
        if goto is not None:
            assert goto > table_id, "goto must go forward"
            outcomes += self._table(dpid, in_port, vid, eth_dst, eth_type, goto, path)
        if not outcomes:
            return [Outcome("drop", dpid, None, path, vid)]
        return outcomes

    def _actions(self, dpid, in_port, actions, vid, eth_dst, eth_type, path):
        outcomes = []
        for action in actions:
            if isinstance(action, parser.OFPActionPushVlan):
                assert action.ethertype == 0x8100 and vid is None, "one 802.1Q tag at most"
                vid = 0
            elif isinstance(action, parser.OFPActionSetField):
                assert action.key == "vlan_vid" and vid is not None, f"set_field {action}"
                assert action.value & ofp.OFPVID_PRESENT, "a VLAN id is set with OFPVID_PRESENT"
                vid = action.value & 0x0FFF
            elif isinstance(action, parser.OFPActionPopVlan):
                assert vid is not None, "pop_vlan on an untagged frame"
                vid = None
            elif isinstance(action, parser.OFPActionOutput):
                outcomes += self._output(dpid, in_port, action.port, vid, eth_dst, eth_type, path)
            elif isinstance(action, parser.OFPActionGroup):
                group_type, buckets = self.switch(dpid).groups[action.group_id]
                assert buckets, f"group {action.group_id} has no buckets"
                if group_type == ofp.OFPGT_FF:
                    live = [b for b in buckets if self.port_live(dpid, b.watch_port)]
                    if not live:
                        outcomes.append(Outcome("drop", dpid, None, path, vid))
                    chosen = live[:1]
                else:
                    assert group_type == ofp.OFPGT_SELECT, f"group {action.group_id}"
                    assert all(bucket.weight >= 1 for bucket in buckets)
                    chosen = buckets
                for bucket in chosen:
                    _, results = self._actions(dpid, in_port, bucket.actions, vid, eth_dst, eth_type,
                                               path)
                    outcomes += results
            else:
                raise AssertionError(f"action {action} not simulated")
        return vid, outcomes

    def _output(self, dpid, in_port, port, vid, eth_dst, eth_type, path):
        if port == ofp.OFPP_CONTROLLER:
            return [Outcome("controller", dpid, None, path, vid)]
        if port == in_port:   # a switch drops it: only OFPP_IN_PORT sends a frame back
            return [Outcome("drop", dpid, port, path, vid)]
        if port == ofp.OFPP_IN_PORT:
            port = in_port
        for (here, there), (out_port, in_port) in self.links.items():
            if here == dpid and out_port == port:
                if (here, there) in self.down:
                    return [Outcome("lost", dpid, port, path, vid)]
                return self._table(there, in_port, vid, eth_dst, eth_type, 0, path + (there,))
        return [Outcome("host", dpid, port, path, vid)]

    # --- reading the tables back ----------------------------------------------------------
    def contents(self, dpid: int) -> tuple[dict, dict]:
        """({entry kind and key: what it does}, {group id: ((label, weight, port), ...)}) of
        one switch's qroute entries, read from the parsed messages: tunnel rules keyed by
        ("tunnel", label) -> port or None (pop and go to table 1), classification rules by
        ("classify", mac) -> ("group", id) | ("port", port), delivery rules by
        ("deliver", mac) -> port, and ("base", table, priority, match) -> actions."""
        rules, groups = {}, {}
        switch = self.switch(dpid)
        for entry in switch.flows.values():
            actions = [a for inst in entry.instructions for a in getattr(inst, "actions", ())]
            gotos = [inst.table_id for inst in entry.instructions
                     if isinstance(inst, parser.OFPInstructionGotoTable)]
            vid = entry.match.get("vlan_vid")
            if entry.table_id == 0 and vid is not None and vid != ofp.OFPVID_NONE:
                if gotos:
                    assert [type(a) for a in actions] == [parser.OFPActionPopVlan] and gotos == [1]
                    rules[("tunnel", vid & 0x0FFF)] = None
                else:
                    (action,) = actions
                    rules[("tunnel", vid & 0x0FFF)] = self._first_port(switch, action)
            elif entry.table_id == 0 and vid == ofp.OFPVID_NONE:
                (action,) = actions
                target = (("group", action.group_id) if isinstance(action, parser.OFPActionGroup)
                          else ("port", action.port))
                rules[("classify", entry.match["eth_dst"])] = target
            elif entry.table_id == 1 and "eth_dst" in entry.match:
                (action,) = actions
                rules[("deliver", entry.match["eth_dst"])] = action.port
            else:
                rules[("base", entry.table_id, entry.priority, tuple(sorted(entry.match.items())))] = (
                    tuple(type(a).__name__ for a in actions))
        for group_id, (group_type, buckets) in switch.groups.items():
            if group_type != ofp.OFPGT_SELECT:
                continue
            specs = []
            for bucket in buckets:
                push, set_vid, out = bucket.actions
                assert isinstance(push, parser.OFPActionPushVlan)
                specs.append((set_vid.value & 0x0FFF, bucket.weight, self._first_port(switch, out)))
            groups[group_id] = tuple(specs)
        return rules, groups

    @staticmethod
    def _first_port(switch: Switch, action) -> int:
        """The port an output action names, or the first bucket's of the FF group it goes to."""
        if isinstance(action, parser.OFPActionOutput):
            return action.port
        assert isinstance(action, parser.OFPActionGroup)
        group_type, (first, _) = switch.groups[action.group_id]
        assert group_type == ofp.OFPGT_FF
        (out,) = first.actions
        return out.port

    def fast_failover(self, dpid: int) -> dict[int, tuple[int, int, int]]:
        """{group id: (bucket 1's watched and output port, bucket 2's VLAN id, its watched port,
        whether it outputs to OFPP_IN_PORT)} of one switch's fast-failover groups."""
        switch, found = self.switch(dpid), {}
        for group_id, (group_type, buckets) in switch.groups.items():
            if group_type != ofp.OFPGT_FF:
                continue
            first, second = buckets
            (out1,), (set_vid, out2) = first.actions, second.actions
            turns_back = out2.port == ofp.OFPP_IN_PORT
            assert first.watch_port == out1.port and (turns_back or second.watch_port == out2.port)
            found[group_id] = (out1.port, set_vid.value & 0x0FFF, second.watch_port, turns_back)
        return found

    def through_groups(self, dpid: int) -> dict[int, int]:
        """{label: fast-failover group id} for each tunnel rule or select bucket of `dpid` that
        sends its frames through a fast-failover group."""
        switch, used = self.switch(dpid), {}
        for entry in switch.flows.values():
            vid = entry.match.get("vlan_vid")
            for gid in _flow_groups(entry):
                if vid is not None and vid != ofp.OFPVID_NONE:
                    used[vid & 0x0FFF] = gid
        for group_type, buckets in switch.groups.values():
            if group_type == ofp.OFPGT_SELECT:
                for bucket in buckets:
                    _, set_vid, out = bucket.actions
                    if isinstance(out, parser.OFPActionGroup):
                        used[set_vid.value & 0x0FFF] = out.group_id
        return used


    # --- what a switch answers when read back -------------------------------------------
    def flow_stats(self, dpid: int, cookie: int = 0, cookie_mask: int = 0) -> list:
        """The switch's flow-stats reply body for a request filtered by cookie (as
        ``ofmsgs.app_flow_stats_request`` asks), every table, Ryu's parsed objects."""
        return [parser.OFPFlowStats(table_id=e.table_id, duration_sec=0, duration_nsec=0,
                                    priority=e.priority, idle_timeout=0, hard_timeout=0, flags=0,
                                    cookie=e.cookie, packet_count=0, byte_count=0,
                                    match=parser.OFPMatch(**e.match), instructions=e.instructions)
                for e in self.switch(dpid).flows.values()
                if (e.cookie & cookie_mask) == (cookie & cookie_mask)]

    def group_descs(self, dpid: int) -> list:
        """The switch's group-desc reply body."""
        return [parser.OFPGroupDescStats(type_=group_type, group_id=group_id, buckets=buckets)
                for group_id, (group_type, buckets) in sorted(self.switch(dpid).groups.items())]

    def read_back(self, dpid: int) -> tuple[list, list]:
        """(flow stats of qroute's cookie, group descs): what a read-back of `dpid` returns."""
        return self.flow_stats(dpid, 0x71726F75 << 32, 0xFFFFFFFF00000000), self.group_descs(dpid)


def assert_record_is_true(sim: TableSim, tunnels) -> None:
    """What the switches hold, read back from the replayed messages, is the record (plus the
    base rules)."""
    record = tunnels.record
    base = {key: value for key, value in sim.contents(min(sim.switches))[0].items()
            if key[0] == "base"}
    assert len(base) == 3
    for dpid in sim.switches:
        rules, groups = sim.contents(dpid)
        expected = dict(base)
        expected.update({("tunnel", label): port
                         for (d, label), port in record.tunnel_rules.items() if d == dpid})
        # the record names groups by egress, the switch by id (group_ids.select_group_id)
        expected.update({("classify", mac): (kind, select_group_id(where) if kind == "group" else where)
                         for (d, mac), (kind, where) in record.classify.items() if d == dpid})
        expected.update({("deliver", mac): port for (d, mac), port in record.delivery.items() if d == dpid})
        assert rules == expected, dpid
        assert groups == {select_group_id(egress): buckets
                          for (ingress, egress), buckets in record.groups.items() if ingress == dpid}, dpid
        protection = {label: spec for (d, label), spec in record.protection.items() if d == dpid}
        assert sim.fast_failover(dpid) == {ff_group_id(label): spec
                                           for label, spec in protection.items()}, dpid
        # every rule and bucket of a protected hop goes through the hop's group (a group may
        # outlive its bucket, dropped by links_down, until the next decision removes it)
        used = {label for (d, label), port in record.tunnel_rules.items()
                if d == dpid and port is not None} | {
            spec[0] for (ingress, _), buckets in record.groups.items() if ingress == dpid
            for spec in buckets}
        assert sim.through_groups(dpid) == {label: ff_group_id(label) for label in protection
                                            if label in used}, dpid
