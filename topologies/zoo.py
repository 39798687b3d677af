"""Topologies from the ``topohub`` package (SNDlib, Topology Zoo, synthetic Gabriel graphs).

topohub graphs are undirected and carry no capacities. The rule used here, documented because
results depend on it:

* every undirected edge becomes two directed links;
* ``capacity_rule="uniform"`` (default): every link has ``capacity_bps`` (10 Gbit/s);
  ``capacity_rule="degree"``: links touching a hub are faster — ``capacity_bps`` times
  ``min(deg u, deg v)`` rounded up to the next power of two, capped at 8x (core links of a
  backbone are usually the fat ones);
* weight: the link length in km (``dist``) rounded up, at least 1 (a latency-like OSPF weight);
  ``weight="hops"`` gives every link weight 1.
"""
from __future__ import annotations

import math

from topologies.weights import length_weight


CAPACITY_RULES = ("uniform", "degree")
UNIFORM_CAPACITY_BPS = 10e9


def rule_capacity(capacity_rule: str, degree_u: int, degree_v: int,
                  capacity_bps: float = UNIFORM_CAPACITY_BPS) -> float:
    """The capacity (bit/s) of a link whose ends have these degrees under ``capacity_rule``
    (see the module docstring)."""
    if capacity_rule == "uniform":
        return capacity_bps
    if capacity_rule == "degree":
        return capacity_bps * min(8, 2 ** math.ceil(math.log2(max(1, min(degree_u, degree_v)))))
    raise ValueError(f"unknown capacity_rule {capacity_rule!r} ({', '.join(CAPACITY_RULES)})")


class UnknownTopologyError(KeyError, ValueError):
    """No topology of that name (a KeyError for lookups, a ValueError for bad input)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def find_topohub(name: str) -> tuple[str, dict]:
    """(key, document) of a topohub topology: ``germany50`` -> ``sndlib/germany50``; keys
    containing '/' are used as given. An unknown name raises :class:`UnknownTopologyError`."""
    import topohub

    candidates = [name] if "/" in name else [f"{group}/{candidate}" for group in ("sndlib", "topozoo")
                                             for candidate in (name, name.lower(), name.capitalize())]
    for key in candidates:
        try:
            return key, topohub.get(key)
        except KeyError:
            continue
    raise UnknownTopologyError(f"topohub has no topology named {name!r} "
                               f"(abilene, geant, or try 'sndlib/<name>' or 'topozoo/<Name>')")


def load_topohub(name: str, capacity_rule: str = "uniform", capacity_bps: float = UNIFORM_CAPACITY_BPS,
                 weight: str = "dist"):
    """A topohub topology as a :class:`qnn.network.Network` (see the module docstring for the rules)."""
    from qnn.network import Network

    key, doc = find_topohub(name)
    node_ids = sorted(n["id"] for n in doc["nodes"])
    relabel = {old: new for new, old in enumerate(node_ids)}
    names = {relabel[n["id"]]: str(n.get("name", n["id"])) for n in doc["nodes"]}
    degree = [0] * len(node_ids)
    edges = []
    for e in doc["edges"]:
        u, v = relabel[e["source"]], relabel[e["target"]]
        if u == v or (u, v) in edges or (v, u) in edges:
            continue  # topohub graphs are simple; guard against self-loops and repeats anyway
        edges.append((u, v))
        degree[u] += 1
        degree[v] += 1
    dist = {}
    for e in doc["edges"]:
        d = e.get("dist")
        dist[(relabel[e["source"]], relabel[e["target"]])] = d
        dist[(relabel[e["target"]], relabel[e["source"]])] = d
    links, capacity, weights = [], [], []
    for u, v in edges:
        cap = rule_capacity(capacity_rule, degree[u], degree[v], capacity_bps)
        if weight == "dist" and dist.get((u, v)) is not None:
            w = length_weight(dist[(u, v)])
        elif weight in ("dist", "hops"):
            w = 1.0
        else:
            raise ValueError(f"unknown weight {weight!r} (dist, hops)")
        for a, b in ((u, v), (v, u)):
            links.append((a, b))
            capacity.append(cap)
            weights.append(w)
    return Network(key.replace("/", "-"), list(range(len(node_ids))), links, capacity, weights,
                   node_names=[names[i] for i in range(len(node_ids))])
