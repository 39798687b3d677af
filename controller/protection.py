"""Local protection: a backup tunnel for every hop of every tunnel, for the switch to take by
itself when the hop's port stops being live (:mod:`controller.ofmsgs` has the fast-failover
groups that do it).

The hop of tunnel t at switch s towards its next switch n is protected by a backup tunnel from
s to t's egress that avoids the link s-n and, where the network allows (n is not the egress and
s still reaches the egress without n), the switch n too: a dead link is bypassed, and so is a
dead switch behind it. Among such paths the backup is the one with the fewest hops (ties broken
by the lowest switch ids, so the choice does not depend on the order links were learned in).
Hops sharing s, n and the egress share one backup tunnel, and a backup tunnel's label is its own
even where its path is also a tunnel's.

Backup tunnels are not protected themselves: one failure is bypassed by the switch, and the
controller's next decision (which the failure asks for) computes primaries and backups afresh
on what is left. Protecting backups too would bypass a second failure before that decision,
but a frame could then be handed from backup to backup around a ring of dead links (a VLAN tag
has no hop limit), and the labels would multiply with each level.

Labels: every backup takes one of the 4094 VLAN ids the tunnels share. When they run out the
hops left over stay unprotected (their tunnels still work; a failure there waits for the
controller), reported by :func:`protect` as `unprotected`.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from controller.ofmsgs import MAX_LABEL, MIN_LABEL, Protection
from controller.splits import Link, SwitchPath
from controller.tunnel_labels import LABEL_COUNT, allocate

__all__ = ["PortLiveness", "Protected", "backup_path", "hops", "protect"]


def hops(path: SwitchPath) -> list[tuple[int, int]]:
    """The protectable hops of a tunnel: (switch, next switch) at every switch but the egress."""
    return list(zip(path, path[1:]))


def _graph(links: Collection[Link]) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_edges_from(sorted(links))
    return graph


def _fewest_hops(graph: nx.DiGraph, src: int, dst: int) -> SwitchPath | None:
    """The shortest path by hops, the lexicographically smallest among equals (deterministic)."""
    if src not in graph or dst not in graph:
        return None
    try:
        distance = nx.single_source_shortest_path_length(graph.reverse(copy=False), dst)
    except nx.NodeNotFound:
        return None
    if src not in distance:
        return None
    path = [src]
    while path[-1] != dst:
        here = path[-1]
        path.append(min(there for there in graph.successors(here)
                        if distance.get(there) == distance[here] - 1))
    return tuple(path)


def backup_path(links: Collection[Link], switch: int, next_switch: int, egress: int,
                graph: nx.DiGraph | None = None) -> SwitchPath | None:
    """The backup of the hop switch -> next_switch of a tunnel to `egress` (None: there is
    none, the link is a bridge of the network)."""
    graph = _graph(links) if graph is None else graph
    # views, not copies: a decision asks this for every hop of every tunnel
    cut = [edge for edge in ((switch, next_switch), (next_switch, switch)) if graph.has_edge(*edge)]
    if next_switch != egress and next_switch in graph:
        path = _fewest_hops(nx.restricted_view(graph, [next_switch], cut), switch, egress)
        if path is not None:
            return path
    return _fewest_hops(nx.restricted_view(graph, [], cut), switch, egress)


@dataclass(frozen=True)
class Protected:
    """`backups`: backup path -> its label; `protection`: (switch, tunnel label) -> (the hop's
    out port, backup label, backup's first port, whether the backup turns back: leaves by the
    port the hop's frames arrive by); `unprotected`: hops (switch, label) with a
    backup path but no free label for it."""

    backups: dict[SwitchPath, int] = field(default_factory=dict)
    protection: dict[tuple[int, int], Protection] = field(default_factory=dict)
    unprotected: list[tuple[int, int]] = field(default_factory=list)


def _allocate_what_fits(paths: list[SwitchPath], installed: Mapping[SwitchPath, int],
                        held: Collection[int]) -> dict[SwitchPath, int]:
    taken = (set(installed.values()) | set(held)) & set(range(MIN_LABEL, MAX_LABEL + 1))
    new = [path for path in paths if path not in installed]
    fitting = set(new[:max(0, LABEL_COUNT - len(taken))])
    return allocate([path for path in paths if path in installed or path in fitting],
                    installed, held)


# backup paths by hop (switch, next switch, egress), for the last few sets of links: they depend
# on the links alone, and most decisions are made on the links of the one before
_BACKUPS_BY_LINKS: OrderedDict[frozenset, dict[tuple[int, int, int], SwitchPath | None]] = OrderedDict()
_LINK_SETS_KEPT = 4


def _backups_for(links: Collection[Link]) -> dict[tuple[int, int, int], SwitchPath | None]:
    """The backup paths known for this set of links (filled in by :func:`protect`)."""
    key = frozenset(links)
    chosen = _BACKUPS_BY_LINKS.pop(key, None)
    if chosen is None:
        chosen = {}
        while len(_BACKUPS_BY_LINKS) >= _LINK_SETS_KEPT:
            _BACKUPS_BY_LINKS.popitem(last=False)
    _BACKUPS_BY_LINKS[key] = chosen
    return chosen


def protect(labels: Mapping[SwitchPath, int], links: Mapping[Link, object],
            installed_backups: Mapping[SwitchPath, int], held: Iterable[int]) -> Protected:
    """Backup tunnels and the fast-failover groups for every hop of the tunnels `labels`
    (path -> label) over `links` (directed, each with its `src_port`). An installed backup
    keeps its label; new ones take labels used neither by `installed_backups` nor in `held`
    (the tunnels' labels, and those still in the switches)."""
    chosen = _backups_for(links)
    graph = None
    wanted: dict[tuple[int, int], SwitchPath] = {}
    for path, label in sorted(labels.items(), key=lambda item: item[1]):
        for switch, next_switch in hops(path):
            key = (switch, next_switch, path[-1])
            if key not in chosen:
                graph = _graph(links) if graph is None else graph
                chosen[key] = backup_path(links, switch, next_switch, path[-1], graph)
            if chosen[key] is not None:
                wanted[(switch, label)] = chosen[key]
    paths = list(dict.fromkeys(wanted.values()))
    backups = _allocate_what_fits(paths, installed_backups, held)
    protection, unprotected = {}, []
    next_of = {(path[k], label): path[k + 1] for path, label in labels.items()
               for k in range(len(path) - 1)}
    previous_of = {(path[k], label): path[k - 1] for path, label in labels.items()
                   for k in range(1, len(path) - 1)}
    for (switch, label), backup in wanted.items():
        if backup not in backups:
            unprotected.append((switch, label))
            continue
        # a transit hop whose backup turns back leaves by the port its frames came in by
        turns_back = backup[1] == previous_of.get((switch, label))
        protection[(switch, label)] = (links[(switch, next_of[(switch, label)])].src_port,
                                       backups[backup], links[(backup[0], backup[1])].src_port,
                                       turns_back)
    return Protected(backups, protection, sorted(unprotected))


class PortLiveness:
    """Ports a switch reported LIVE (OpenFlow 1.3 port state), and the links set aside while a
    port with its carrier up was not live: BFD (where it runs on the link) found it dead, the
    fast-failover groups already avoid it, and the controller routes around it too. LLDP
    discovery (ryu.topology) still holds such a link and will not announce it again, so it is
    given back when the port is live again. A switch that never reports LIVE is judged by its
    carrier alone."""

    def __init__(self):
        self.live: set[tuple[int, int]] = set()
        self.parked: dict[tuple[int, int], list[tuple[Link, object]]] = {}

    def described(self, dpid: int, live_ports: Iterable[int]) -> None:
        self.live.update((dpid, port) for port in live_ports)

    def reported(self, dpid: int, port: int, live: bool, gone: bool) -> tuple[bool, bool]:
        """A port-status: (liveness lost with the carrier up, liveness back)."""
        key = (dpid, port)
        was_live = key in self.live
        if live and not gone:
            self.live.add(key)
        else:
            self.live.discard(key)
        if gone:
            self.parked.pop(key, None)
        return was_live and not live and not gone, live and not gone and key in self.parked

    def park(self, dpid: int, port: int, links: Iterable[tuple[Link, object]]) -> None:
        self.parked.setdefault((dpid, port), []).extend(links)

    def unpark(self, dpid: int, port: int) -> list[tuple[Link, object]]:
        return self.parked.pop((dpid, port), [])

    def forget_switch(self, dpid: int) -> None:
        self.live = {key for key in self.live if key[0] != dpid}
        self.parked = {key: links for key, links in self.parked.items() if key[0] != dpid}
