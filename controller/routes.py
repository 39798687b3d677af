"""What qroute has installed, and the steps from a routing decision to the rules that realise it.

For each flow (a (src_mac, dst_mac) host pair) :class:`InstalledRoutes` holds its hops (the
(dpid, out_port) rules, see :mod:`controller.planner`) and its switch path; the two always have
the same flows. A decision goes through it in order: :meth:`~InstalledRoutes.resolve` turns the
decided paths into rules on the live network, :meth:`~InstalledRoutes.diff` says what that
changes, :meth:`~InstalledRoutes.plan` gives the phased flow-mods, and once they are sent
:meth:`~InstalledRoutes.commit` records the result. Switches can reconnect (and lose every qroute
rule) at any time; :meth:`~InstalledRoutes.switch_wiped` keeps the record true to what they hold.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller import ofmsgs
from controller.netstate import NetworkState
from controller.planner import FlowKey, Hop, Plan, hops_for_path, plan_phases, strip_switches

SwitchPath = tuple[int, ...]
Message = tuple[int, object]


@dataclass(frozen=True)
class Desired:
    """The rules and paths a decision asks for, limited to flows it can route right now."""

    hops: dict[FlowKey, tuple[Hop, ...]] = field(default_factory=dict)
    paths: dict[FlowKey, SwitchPath] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """Flows whose rules a decision changes: `new` ones, ones `moved` to another path, ones
    `rewritten` on the path they had (a wiped switch's rules restored, a host moved to another
    port of its switch), and ones `dropped` (no longer routable)."""

    new: list[FlowKey] = field(default_factory=list)
    moved: list[FlowKey] = field(default_factory=list)
    rewritten: list[FlowKey] = field(default_factory=list)
    dropped: list[FlowKey] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.new or self.moved or self.rewritten or self.dropped)


class InstalledRoutes:
    """Installed rules and paths per flow, the epoch of the decision that installed them, the
    flows whose ingress rule (the one flagged for statistics) was wiped (`unflagged`: their first
    installed hop is a transit rule), and the switches wiped since the last plan."""

    def __init__(self):
        self.hops: dict[FlowKey, tuple[Hop, ...]] = {}
        self.paths: dict[FlowKey, SwitchPath] = {}
        self.unflagged: set[FlowKey] = set()
        self.epoch = 0
        self.wiped: set[int] = set()

    def strip(self, dpids: Iterable[int]) -> bool:
        """Forget the rules on `dpids` (wiped there); a flow's rules elsewhere stay known, so
        that moving it later deletes them. Returns whether anything was forgotten."""
        kept, lost_ingress = strip_switches(self.hops, set(dpids))
        if kept == self.hops:
            return False
        self.unflagged = lost_ingress | (self.unflagged & kept.keys())
        self.hops = kept
        self.paths = {flow: path for flow, path in self.paths.items() if flow in kept}
        return True

    def switch_wiped(self, dpid: int) -> bool:
        """A switch (re)connected and lost qroute's rules: forget them, and remember it for a
        plan that may be under way (see :meth:`commit`). Returns whether rules were forgotten."""
        self.wiped.add(dpid)
        return self.strip({dpid})

    def resolve(self, decided: Mapping[FlowKey, SwitchPath], state: NetworkState) -> Desired:
        """The rules for each decided path on the network as it is now (links can fail and hosts
        move while a decision runs). A flow whose decided path broke keeps an intact installed
        path rather than losing its rules until the decision that failure asked for; a host
        that moved leaves neither path usable (its move asked for a decision too)."""
        desired = Desired()
        for flow, path in decided.items():
            source, destination = (state.hosts.get(mac) for mac in flow)
            if source is None or destination is None:
                continue
            hops = hops_for_path(path, destination, state.links, source.dpid)
            installed = self.paths.get(flow)
            if not hops and installed:
                path, hops = installed, hops_for_path(installed, destination, state.links, source.dpid)
            if hops:
                desired.hops[flow], desired.paths[flow] = hops, path
        return desired

    def diff(self, desired: Desired) -> Change:
        # an unflagged flow's ingress rule is sent again even where its hops look unchanged
        changed = [flow for flow, hops in desired.hops.items()
                   if self.hops.get(flow) != hops or flow in self.unflagged]
        kept_path = [flow for flow in changed if flow in self.paths]
        return Change(new=[flow for flow in changed if flow not in self.paths],
                      moved=[flow for flow in kept_path if self.paths[flow] != desired.paths[flow]],
                      rewritten=[flow for flow in kept_path if self.paths[flow] == desired.paths[flow]],
                      dropped=[flow for flow in self.hops if flow not in desired.hops])

    def plan(self, desired: Desired) -> Plan:
        """The phased flow-mods from what is installed to `desired`, under a new epoch. From
        here on a reconnecting switch may lose what the plan sends it (:meth:`commit`); one that
        reconnected before is already stripped from what is installed."""
        self.epoch += 1
        self.wiped.clear()
        return plan_phases(self.hops, desired.hops, self.epoch, self.unflagged)

    def commit(self, desired: Desired) -> list[Message]:
        """Record `desired` as installed once its plan was sent. A switch wiped meanwhile lost
        what the plan sent it before it reconnected, and holds what was sent after: the
        returned deletes remove both there, so that it holds only what is recorded, and the
        next decision puts them back."""
        hops, paths, deletes = desired.hops, desired.paths, []
        if self.wiped:
            deletes = [(dpid, ofmsgs.delete_pair_rule(*flow)) for flow, flow_hops in hops.items()
                       for dpid, _ in flow_hops if dpid in self.wiped]
            hops, self.unflagged = strip_switches(hops, self.wiped)
            paths = {flow: paths[flow] for flow in hops}
        else:
            self.unflagged = set()
        self.hops, self.paths = hops, paths
        return deletes
