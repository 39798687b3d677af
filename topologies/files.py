"""Topology files a user brings: networkx node-link JSON, GraphML, GML, SNDlib native and XML.

The format is read from the content, not the suffix. Every file becomes a
:class:`TopologyFile`: a :class:`qnn.network.Network` with nodes ``0..N-1`` and directed links,
plus what the file said about itself. The rules, stated once (``docs/topology-files.md``):

* **node index**: the file's node ids sorted -- numbers first in numeric order, then strings in
  code-point order (``"10"`` before ``"2"``), then anything else by its ``repr``; node i is the
  i-th id. Traffic matrices, tunnels and dpids (i + 1) use this index.
* **direction**: an undirected file's edge is two directed links of the same capacity and
  weight; SNDlib links are undirected.
* **repeats**: a link listed twice with the same capacity and weight is one link (an undirected
  file often lists both directions); with a different capacity or weight it is an error, unless
  the file declares a multigraph, where parallel links are one bundle (capacities add, the
  smallest weight).
* **capacity** (bit/s): JSON ``capacity``; Topology Zoo's ``LinkSpeedRaw``, else ``LinkSpeed``
  with ``LinkSpeedUnits``, else a ``LinkLabel`` such as ``"10 Gbps"`` or ``"OC-192"``; SNDlib's
  pre-installed capacity, else its largest module, read as Mbit/s. Links without one get the
  ``capacity_rule`` of :func:`topologies.zoo.rule_capacity` (``uniform``: 10 Gbit/s;
  ``degree``: by the smaller end degree), and :attr:`TopologyFile.capacity_rule` says so.
* **weight** (OSPF): the link's ``weight``/``ospf``/``cost``/``metric`` where given, else its
  length ``dist`` in km rounded up (as topohub graphs by name), else inverse capacity
  (10 Gbit/s / capacity, rounded, at least 1: Cisco's default, as GEANT).
* **bad input** raises :class:`topologies.errors.DataFormatError` as ``file:line: problem``
  (JSON: the syntax error's line; a JSON link is named by its index in the list).
"""
from __future__ import annotations

import html
import json
import math
import pathlib
import re
import xml.parsers.expat
from dataclasses import dataclass, field

import numpy as np

from topologies.errors import DataFormatError
from topologies.textfile import read_text
from topologies.weights import inverse_capacity_weight, length_weight

FORMATS = ("node-link JSON", "GraphML", "GML", "SNDlib native", "SNDlib XML")
SUFFIXES = (".json", ".graphml", ".gml", ".xml", ".txt", ".sndlib")
SNDLIB_UNIT_BPS = 1e6  # SNDlib states no units; its capacities and demands are read as Mbit/s
WEIGHT_KEYS = ("weight", "ospf", "ospf_weight", "cost", "metric", "igp_metric")
UNIT_BPS = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
OC1_BPS = 51.84e6
SNDLIB_CAPACITY_SOURCE = "from the file (SNDlib pre-installed capacity, else the largest module; Mbit/s)"
SUMMARY_IDS = 12  # id -> index pairs printed before "..." for a large network


@dataclass(frozen=True)
class TopologyFile:
    network: object          # qnn.network.Network: nodes 0..N-1 by the index rule, directed links
    node_ids: list           # node_ids[i] = the file's id of node i
    coordinates: dict        # node index -> (latitude, longitude), where the file gives them
    capacity_rule: str       # "from the file" or the rule applied
    weight_rule: str         # where the OSPF weights came from
    format: str              # one of FORMATS
    demands: np.ndarray | None = None  # SNDlib demands as one N x N matrix (bit/s), else None
    path: str = ""

    def summary(self) -> str:
        """The network in a few lines: sizes, the rules and the id -> index mapping."""
        net = self.network
        pairs = [f"{node_id!r}->{i}" for i, node_id in enumerate(self.node_ids)]
        if len(pairs) > SUMMARY_IDS:
            pairs = pairs[: SUMMARY_IDS - 2] + ["...", pairs[-1]]
        lines = [f"{self.path} ({self.format}): {net.n_nodes} nodes, {net.n_links} directed links",
                 f"  capacities: {self.capacity_rule}", f"  OSPF weights: {self.weight_rule}",
                 f"  node id -> index (ids sorted): {', '.join(pairs)}"]
        if self.demands is not None:
            lines.append(f"  demands: {int((self.demands > 0).sum())} pairs, "
                         f"{self.demands.sum() / 1e9:g} Gbit/s in total")
        return "\n".join(lines)


def id_sort_key(node_id):
    """The index rule: numbers first (numeric order), then strings, then the rest by repr."""
    if isinstance(node_id, (int, float)) and not isinstance(node_id, bool):
        return (0, node_id, "")
    if isinstance(node_id, str):
        return (1, 0, node_id)
    return (2, 0, repr(node_id))


@dataclass
class _Link:
    source: object
    target: object
    attrs: dict
    where: str            # "link 3" or "line 12": for messages
    line: int | None


@dataclass
class _Parsed:
    name: str
    directed: bool
    multigraph: bool
    nodes: list            # (id, attrs, line)
    links: list            # _Link
    demands: list = field(default_factory=list)   # (source, target, value, line)
    capacity_source: str = "from the file"


# ---- detection ----------------------------------------------------------------------------------

def detect_format(text: str) -> str | None:
    """The format of a file's text, or None if it is none of :data:`FORMATS`."""
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith("{"):
        return "node-link JSON"
    if body.startswith("<"):
        root = re.search(r"<([A-Za-z_][\w.:-]*)[\s>/]", re.sub(r"<[?!][^>]*>", "", body))
        tag = root.group(1).rpartition(":")[2] if root else ""
        return {"graphml": "GraphML", "network": "SNDlib XML"}.get(tag)
    if re.match(r"\?SNDlib native", body) or re.search(r"^\s*NODES\s*\(", body, re.M):
        return "SNDlib native"
    if re.search(r"(^|\s)graph\s*\[", body):
        return "GML"
    return None


def is_topology_file(text_or_path) -> bool:
    """A ``--topology`` value names a file: an existing file or a name with a topology suffix
    (topohub names such as ``topozoo/Abilene`` contain '/' and are names)."""
    path = pathlib.Path(str(text_or_path))
    return path.is_file() or path.suffix.lower() in SUFFIXES


def read_topology(path, capacity_rule: str = "uniform") -> TopologyFile:
    """Read a topology file of any of :data:`FORMATS` (see the module docstring for the rules)."""
    from topologies.zoo import CAPACITY_RULES

    if capacity_rule not in CAPACITY_RULES:
        raise ValueError(f"unknown capacity_rule {capacity_rule!r} ({', '.join(CAPACITY_RULES)})")
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataFormatError(path, None, "no such topology file")
    text = read_text(path)
    fmt = detect_format(text)
    if fmt is None:
        raise DataFormatError(path, None, f"unknown topology format (expected {', '.join(FORMATS)})")
    parser = {"node-link JSON": _parse_json, "GraphML": _parse_graphml, "GML": _parse_gml,
              "SNDlib native": _parse_sndlib_native, "SNDlib XML": _parse_sndlib_xml}[fmt]
    parsed = parser(path, text)
    return _build(path, fmt, parsed, capacity_rule)


# ---- link attributes -----------------------------------------------------------------------------

def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _link_capacity(attrs: dict) -> tuple[float | None, str | None]:
    """(capacity in bit/s or None, a problem or None). ``capacity`` and ``LinkSpeedRaw`` must be
    valid where present; Topology Zoo's free-text speed fields count only where they parse."""
    for key in ("capacity", "LinkSpeedRaw"):
        if key in attrs:
            cap = _number(attrs[key])
            if cap is None or not math.isfinite(cap) or cap <= 0:
                return None, f"{key} {attrs[key]!r} is not a positive number (bit/s)"
            return cap, None
    speed = _number(attrs.get("LinkSpeed"))
    unit = str(attrs.get("LinkSpeedUnits", "")).strip().upper()[:1]
    if speed is not None and math.isfinite(speed) and speed > 0 and unit in UNIT_BPS:
        return speed * UNIT_BPS[unit], None
    return _label_capacity(str(attrs.get("LinkLabel", ""))), None


def _label_capacity(label: str) -> float | None:
    """``"10 Gbps"``, ``"2.5 Gb/s"``, ``"OC-192"`` -> bit/s; None for labels that name no speed."""
    match = re.search(r"(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)\s*(?:bps|bit/s|b/s|bits?)\b", label)
    if match:
        return float(match.group(1)) * UNIT_BPS[match.group(2).upper()] or None
    match = re.search(r"\b(OC|STM)-?(\d+)\b", label, re.I)
    if match:  # SONET OC-n is n x 51.84 Mbit/s; SDH STM-n is OC-3n
        per_unit = OC1_BPS if match.group(1).upper() == "OC" else 3 * OC1_BPS
        return int(match.group(2)) * per_unit or None
    return None


def _link_weight(attrs: dict) -> tuple[float | None, str | None]:
    for key in WEIGHT_KEYS:
        if key in attrs:
            w = _number(attrs[key])
            if w is None or not math.isfinite(w) or w <= 0:
                return None, f"{key} {attrs[key]!r} is not a positive number"
            return w, None
    return None, None


def _coordinates(attrs: dict) -> tuple[float, float] | None:
    for lat_key, lon_key in (("Latitude", "Longitude"), ("latitude", "longitude"), ("lat", "lon"),
                             ("lat", "lng"), ("y", "x")):
        lat, lon = _number(attrs.get(lat_key)), _number(attrs.get(lon_key))
        if lat is not None and lon is not None:
            return lat, lon
    pos = attrs.get("pos")
    if isinstance(pos, (list, tuple)) and len(pos) == 2 and all(_number(p) is not None for p in pos):
        return float(pos[1]), float(pos[0])  # topohub: [longitude, latitude]
    return None


# ---- building the network ------------------------------------------------------------------------

def _build(path: pathlib.Path, fmt: str, parsed: _Parsed, capacity_rule: str) -> TopologyFile:
    from qnn.network import Network
    from topologies.zoo import rule_capacity

    first_seen: dict = {}
    for node_id, _, where in parsed.nodes:  # where: a line number, or "node 3" (JSON)
        if node_id in first_seen:
            before = first_seen[node_id]
            line, prefix = (where, "") if isinstance(where, int) else (None, f"{where}: ")
            also = f" (first at line {before})" if isinstance(before, int) else f" (first as {before})"
            raise DataFormatError(path, line, f"{prefix}node {node_id!r} is listed twice{also}")
        first_seen[node_id] = where
    if not parsed.nodes:
        raise DataFormatError(path, None, "no nodes")
    if not parsed.links:
        raise DataFormatError(path, None, "no links")
    node_ids = sorted(first_seen, key=id_sort_key)
    index = {node_id: i for i, node_id in enumerate(node_ids)}
    attrs_of = {node_id: attrs for node_id, attrs, _ in parsed.nodes}

    # one entry per link (a directed pair, or an unordered one for undirected files)
    merged: dict = {}
    for link in parsed.links:
        for end in (link.source, link.target):
            if end not in index:
                raise DataFormatError(path, link.line, f"{link.where} ({link.source!r}->{link.target!r}) "
                                                       f"names node {end!r}, which is not a node of the file")
        u, v = index[link.source], index[link.target]
        if u == v:
            raise DataFormatError(path, link.line, f"{link.where} is a loop at node {link.source!r}")
        cap, problem = _link_capacity(link.attrs)
        if problem is None:
            weight, problem = _link_weight(link.attrs)
        if problem:
            raise DataFormatError(path, link.line,
                                  f"{link.where} ({link.source!r}->{link.target!r}): {problem}")
        dist = _number(link.attrs.get("dist"))
        key = (u, v) if parsed.directed else (min(u, v), max(u, v))
        entry = {"cap": cap, "weight": weight, "dist": dist, "link": link, "ends": (u, v)}
        if key not in merged:
            merged[key] = entry
            continue
        before = merged[key]
        if parsed.multigraph:
            before["cap"] = None if cap is None or before["cap"] is None else before["cap"] + cap
            if weight is not None:
                before["weight"] = weight if before["weight"] is None else min(weight, before["weight"])
            continue
        if before["cap"] != cap or before["weight"] != weight:
            what, key_of = ("capacity", "cap") if before["cap"] != cap else ("weight", "weight")
            raise DataFormatError(path, link.line,
                                  f"{link.where} ({link.source!r}->{link.target!r}) repeats "
                                  f"{before['link'].where} with a different {what} "
                                  f"({before[key_of]!r} there, {entry[key_of]!r} here)")

    neighbours = [set() for _ in node_ids]
    for u, v in merged:
        neighbours[u].add(v)
        neighbours[v].add(u)
    degree = [len(s) for s in neighbours]
    links, capacity, weight_of, from_rule = [], [], [], 0
    weight_sources = set()
    for entry in merged.values():
        u, v = entry["ends"]  # as the file first lists the link: the link order follows the file
        cap = entry["cap"]
        if cap is None:
            cap = rule_capacity(capacity_rule, degree[u], degree[v])
            from_rule += 1
        if entry["weight"] is not None:
            weight, source = entry["weight"], "from the file"
        elif entry["dist"] is not None and entry["dist"] > 0:
            weight, source = length_weight(entry["dist"]), "link length dist in km, rounded up"
        else:
            weight = inverse_capacity_weight(cap)
            source = "inverse capacity (10 Gbit/s / capacity, rounded, at least 1)"
        weight_sources.add(source)
        pairs = [(u, v)] if parsed.directed else [(u, v), (v, u)]
        for a, b in pairs:
            links.append((a, b))
            capacity.append(cap)
            weight_of.append(weight)
    rule_words = {"uniform": "uniform 10 Gbit/s",
                  "degree": "by degree (10 Gbit/s x min end degree, next power of two, at most 8x)"}
    if from_rule == 0:
        capacity_text = parsed.capacity_source
    elif from_rule == len(merged):
        capacity_text = f"none in the file: {rule_words[capacity_rule]} (capacity_rule {capacity_rule!r})"
    else:
        capacity_text = (f"{parsed.capacity_source} for {len(merged) - from_rule} of {len(merged)} links; "
                         f"{rule_words[capacity_rule]} for the other {from_rule} "
                         f"(capacity_rule {capacity_rule!r})")
    names = []
    for node_id in node_ids:
        attrs = attrs_of[node_id]
        label = attrs.get("name", attrs.get("label"))
        names.append(str(label) if label not in (None, "") else str(node_id))
    try:
        network = Network(parsed.name, list(range(len(node_ids))), links, capacity, weight_of,
                          node_names=names)
    except ValueError as err:
        raise DataFormatError(path, None, str(err)) from None
    _check_connected(path, network, node_ids)
    coordinates = {}
    for node_id in node_ids:
        where = _coordinates(attrs_of[node_id])
        if where is not None:
            coordinates[index[node_id]] = where
    demands = None
    if parsed.demands:
        demands = np.zeros((len(node_ids), len(node_ids)))
        for src, dst, value, line in parsed.demands:
            for end in (src, dst):
                if end not in index:
                    raise DataFormatError(path, line, f"demand {src!r}->{dst!r} names node {end!r}, "
                                                      f"which is not a node of the file")
            if src == dst:
                raise DataFormatError(path, line, f"demand from node {src!r} to itself")
            demands[index[src], index[dst]] += value
    return TopologyFile(network, node_ids, coordinates, capacity_text, "; ".join(sorted(weight_sources)),
                        fmt, demands, str(path))


def _check_connected(path, network, node_ids) -> None:
    """Every node must reach every other along the links: name a few pairs that cannot, and how many."""
    import networkx as nx

    graph = network.graph()
    if nx.is_strongly_connected(graph):
        return
    n = network.n_nodes
    missing, examples = 0, []
    for s in range(n):
        reach = nx.descendants(graph, s)
        for d in range(n):
            if d != s and d not in reach:
                missing += 1
                if len(examples) < 4:
                    examples.append(f"{node_ids[s]!r}->{node_ids[d]!r}")
    raise DataFormatError(path, None, f"the graph is not connected: {missing} ordered pair(s) have no path, "
                                      f"e.g. {', '.join(examples)}")


# ---- node-link JSON ------------------------------------------------------------------------------

def _parse_json(path, text: str) -> _Parsed:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFormatError(path, err.lineno, f"invalid JSON: {err.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
        raise DataFormatError(path, None, "expected a networkx node-link object with a 'nodes' list "
                                          "and a 'links' or 'edges' list")
    key = "links" if "links" in doc else "edges"
    if not isinstance(doc.get(key), list):
        raise DataFormatError(path, None, "expected a 'links' or 'edges' list beside 'nodes'")
    nodes = []
    for i, node in enumerate(doc["nodes"]):
        if not isinstance(node, dict) or "id" not in node:
            raise DataFormatError(path, None, f"node {i} has no 'id'")
        if isinstance(node["id"], (list, dict)):
            raise DataFormatError(path, None, f"node {i} has an id that is a {type(node['id']).__name__}")
        nodes.append((node["id"], node, f"node {i}"))
    links = []
    for i, link in enumerate(doc[key]):
        if not isinstance(link, dict) or "source" not in link or "target" not in link:
            raise DataFormatError(path, None, f"{key[:-1]} {i} needs a 'source' and a 'target'")
        links.append(_Link(link["source"], link["target"], link, f"{key[:-1]} {i}", None))
    graph = doc.get("graph") if isinstance(doc.get("graph"), dict) else {}
    name = str(graph.get("name") or path.stem)
    return _Parsed(name, bool(doc.get("directed", False)), bool(doc.get("multigraph", False)), nodes, links)


# ---- XML (GraphML, SNDlib XML) with line numbers -------------------------------------------------

@dataclass
class _Element:
    tag: str
    attrib: dict
    line: int
    children: list = field(default_factory=list)
    text: str = ""

    def find(self, tag):
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag):
        return [c for c in self.children if c.tag == tag]

    def child_text(self, tag) -> str | None:
        child = self.find(tag)
        return child.text.strip() if child is not None else None


def _parse_xml(path, text: str) -> _Element:
    """A tree of :class:`_Element` (namespaces dropped from tags) whose elements know their line."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    stack: list[_Element] = []
    root: list[_Element] = []

    def start(tag, attrib):
        element = _Element(tag.rpartition("}")[2], {k.rpartition("}")[2]: v for k, v in attrib.items()},
                           parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(element)
        stack.append(element)

    def end(_tag):
        stack.pop()

    def data(chunk):
        if stack:
            stack[-1].text += chunk

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, data
    try:
        parser.Parse(text.encode("utf-8"), True)
    except xml.parsers.expat.ExpatError as err:
        raise DataFormatError(path, err.lineno, f"invalid XML: {xml.parsers.expat.ErrorString(err.code)}") \
            from None
    return root[0]


def _typed(value: str, kind: str):
    kind = kind.lower()
    try:
        if kind in ("int", "long"):
            return int(value.strip())
        if kind in ("float", "double"):
            return float(value.strip())
    except ValueError:
        return value
    if kind == "boolean":
        return value.strip().lower() in ("true", "1")
    return value


def _parse_graphml(path, text: str) -> _Parsed:
    root = _parse_xml(path, text)
    keys, defaults = {}, {"node": {}, "edge": {}}
    for key in root.findall("key"):
        name, kind = key.attrib.get("attr.name", key.attrib.get("id")), key.attrib.get("attr.type", "string")
        keys[key.attrib.get("id")] = (name, kind)
        default = key.find("default")
        if default is not None:
            domain_of = key.attrib.get("for", "all")
            for domain in (("node", "edge") if domain_of == "all" else (domain_of,)):
                if domain in defaults:
                    defaults[domain][name] = _typed(default.text, kind)
    graph = root.find("graph")
    if graph is None:
        raise DataFormatError(path, root.line, "GraphML without a <graph> element")

    def data_of(element, domain):
        attrs = dict(defaults[domain])
        for item in element.findall("data"):
            name, kind = keys.get(item.attrib.get("key"), (item.attrib.get("key"), "string"))
            attrs[name] = _typed(item.text, kind)
        return attrs

    nodes = []
    for node in graph.findall("node"):
        if "id" not in node.attrib:
            raise DataFormatError(path, node.line, "<node> without an id")
        nodes.append((node.attrib["id"], data_of(node, "node"), node.line))
    links = []
    for i, edge in enumerate(graph.findall("edge")):
        if "source" not in edge.attrib or "target" not in edge.attrib:
            raise DataFormatError(path, edge.line, "<edge> needs a source and a target")
        links.append(_Link(edge.attrib["source"], edge.attrib["target"], data_of(edge, "edge"),
                           f"edge {i}", edge.line))
    graph_attrs = {}
    for item in graph.findall("data"):
        name, kind = keys.get(item.attrib.get("key"), (item.attrib.get("key"), "string"))
        graph_attrs[name] = _typed(item.text, kind)
    name = str(graph_attrs.get("name") or graph_attrs.get("label") or path.stem)
    # GraphML declares no multigraph: parallel edges follow the repeat rule (they must agree)
    return _Parsed(name, graph.attrib.get("edgedefault", "directed") == "directed", False, nodes, links,
                   capacity_source="from the file (Topology Zoo link speeds)")


# ---- GML -----------------------------------------------------------------------------------------

_GML_TOKEN = re.compile(r'\s*(?:(?P<comment>#[^\n]*)|(?P<open>\[)|(?P<close>\])|"(?P<string>[^"]*)"'
                        r'|(?P<number>[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|nan)(?![\w.]))'
                        r'|(?P<key>[A-Za-z_][A-Za-z0-9_]*))', re.S)


def _gml_tree(path, text: str) -> list:
    """GML as nested lists of (key, value, line); a value is a number, a string or such a list."""
    stack: list[list] = [[]]
    pending: tuple[str, int] | None = None
    pos, line = 0, 1
    while pos < len(text):
        match = _GML_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                break
            line += text.count("\n", pos, pos + len(text[pos:]) - len(text[pos:].lstrip()))
            raise DataFormatError(path, line, f"GML: unexpected {text[pos:].lstrip()[:20]!r}")
        token_line = line + text.count("\n", pos, match.start(match.lastgroup))
        line += text.count("\n", pos, match.end())
        pos = match.end()
        kind = match.lastgroup
        if kind == "comment":
            continue
        if kind == "key" and pending is None:
            pending = (match.group("key"), token_line)
            continue
        if kind == "close":
            if pending is not None or len(stack) == 1:
                raise DataFormatError(path, token_line, "GML: ']' without its key and value")
            done = stack.pop()
            stack[-1][-1] = (stack[-1][-1][0], done, stack[-1][-1][2])
            continue
        if pending is None:
            raise DataFormatError(path, token_line, f"GML: value {match.group(0).strip()!r} without a key")
        key, key_line = pending
        pending = None
        if kind == "open":
            stack[-1].append((key, None, key_line))
            stack.append([])
        elif kind == "string":
            stack[-1].append((key, html.unescape(match.group("string")), key_line))
        elif kind == "number":
            number = match.group("number")
            value = int(number) if re.fullmatch(r"[+-]?\d+", number) else float(number)
            stack[-1].append((key, value, key_line))
        else:  # a key where a value belongs: GML's keys take a value
            raise DataFormatError(path, token_line, f"GML: key {key!r} has no value")
    if len(stack) != 1 or pending is not None:
        raise DataFormatError(path, line, "GML: the file ends inside a list")
    return stack[0]


def _parse_gml(path, text: str) -> _Parsed:
    top = _gml_tree(path, text)
    graph = next((value for key, value, _ in top if key == "graph" and isinstance(value, list)), None)
    if graph is None:
        raise DataFormatError(path, None, "GML without a 'graph [ ... ]'")
    scalar = {key: value for key, value, _ in graph if not isinstance(value, list)}
    nodes, links = [], []
    for key, value, line in graph:
        if not isinstance(value, list):
            continue
        attrs = {k: v for k, v, _ in value if not isinstance(v, list)}
        if key == "node":
            if "id" not in attrs:
                raise DataFormatError(path, line, "GML node without an id")
            nodes.append((attrs["id"], attrs, line))
        elif key == "edge":
            if "source" not in attrs or "target" not in attrs:
                raise DataFormatError(path, line, "GML edge needs a source and a target")
            links.append(_Link(attrs["source"], attrs["target"], attrs, f"edge at line {line}", line))
    name = str(scalar.get("name") or scalar.get("label") or path.stem)
    return _Parsed(name, bool(scalar.get("directed", 0)), bool(scalar.get("multigraph", 0)), nodes, links,
                   capacity_source="from the file (Topology Zoo link speeds)")


# ---- SNDlib --------------------------------------------------------------------------------------

_SNDLIB_NODE = re.compile(r"^(\S+)\s*\(\s*(\S+)\s+(\S+)\s*\)$")
_SNDLIB_PAIR = re.compile(r"^(\S+)\s*\(\s*(\S+)\s+(\S+)\s*\)\s*(.*)$")


def _sndlib_capacity(pre_installed: float, modules: list[float]) -> float | None:
    if pre_installed > 0:
        return pre_installed * SNDLIB_UNIT_BPS
    if modules and max(modules) > 0:
        return max(modules) * SNDLIB_UNIT_BPS
    return None


def _parse_sndlib_native(path, text: str) -> _Parsed:
    section = None
    nodes, links, demands = [], [], []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("?"):
            continue
        opening = re.fullmatch(r"([A-Z_]+)\s*\(", line)
        if section is None:
            if opening:
                section = opening.group(1)
                continue
            raise DataFormatError(path, lineno,
                                  f"SNDlib: expected a section such as 'NODES (', got {line[:30]!r}")
        if line == ")":
            section = None
            continue
        if section == "NODES":
            match = _SNDLIB_NODE.match(line) or re.fullmatch(r"(\S+)", line)
            if not match:
                raise DataFormatError(path, lineno, "SNDlib node: expected 'id ( longitude latitude )'")
            attrs = {}
            if match.lastindex == 3:
                lon, lat = _number(match.group(2)), _number(match.group(3))
                if lon is None or lat is None:
                    raise DataFormatError(path, lineno, "SNDlib node: coordinates that are not numbers")
                attrs = {"x": lon, "y": lat}
            nodes.append((match.group(1), attrs, lineno))
        elif section == "LINKS":
            match = _SNDLIB_PAIR.match(line)
            modules = re.fullmatch(r"([^()]*)\(([^()]*)\)", match.group(4).strip()) if match else None
            head = (modules.group(1) if modules else (match.group(4) if match else "")).split()
            tail = modules.group(2).split() if modules else []
            values = [_number(v) for v in head + tail]
            if not match or len(head) < 1 or any(v is None or not math.isfinite(v) for v in values):
                raise DataFormatError(path, lineno, "SNDlib link: expected 'id ( source target ) capacity "
                                                    "cost routing_cost setup_cost ( module_capacity "
                                                    "module_cost ... )'")
            pre = values[0]
            module_caps = values[len(head)::2]
            if pre < 0 or any(c < 0 for c in module_caps):
                raise DataFormatError(path, lineno, f"SNDlib link {match.group(1)}: negative capacity")
            cap = _sndlib_capacity(pre, module_caps)
            attrs = {"capacity": cap} if cap is not None else {}
            links.append(_Link(match.group(2), match.group(3), attrs, f"link {match.group(1)}", lineno))
        elif section == "DEMANDS":
            match = _SNDLIB_PAIR.match(line)
            fields = match.group(4).split() if match else []
            value = _number(fields[1]) if len(fields) >= 2 else None
            if not match or value is None:
                raise DataFormatError(path, lineno, "SNDlib demand: expected 'id ( source target ) "
                                                    "routing_unit demand_value max_path_length'")
            if not math.isfinite(value) or value < 0:
                raise DataFormatError(path, lineno, f"SNDlib demand {match.group(1)}: value {fields[1]} is "
                                                    f"negative or not finite")
            demands.append((match.group(2), match.group(3), value * SNDLIB_UNIT_BPS, lineno))
    if section is not None:
        raise DataFormatError(path, None, f"SNDlib: section {section} is not closed with ')'")
    return _Parsed(path.stem, False, False, nodes, links, demands,
                   capacity_source=SNDLIB_CAPACITY_SOURCE)


def _parse_sndlib_xml(path, text: str) -> _Parsed:
    root = _parse_xml(path, text)
    structure = root.find("networkStructure")
    structure = root if structure is None else structure
    node_list, link_list = structure.find("nodes"), structure.find("links")
    if node_list is None or link_list is None:
        raise DataFormatError(path, root.line, "SNDlib XML needs <nodes> and <links>")
    nodes = []
    for node in node_list.findall("node"):
        if "id" not in node.attrib:
            raise DataFormatError(path, node.line, "<node> without an id")
        attrs = {}
        coordinates = node.find("coordinates")
        if coordinates is not None:
            attrs = {"x": _number(coordinates.child_text("x")), "y": _number(coordinates.child_text("y"))}
        nodes.append((node.attrib["id"], attrs, node.line))
    links = []
    for link in link_list.findall("link"):
        source, target = link.child_text("source"), link.child_text("target")
        if not source or not target:
            raise DataFormatError(path, link.line, "<link> needs a <source> and a <target>")
        pre = link.find("preInstalledModule")
        pre_cap = _number(pre.child_text("capacity")) if pre is not None else 0.0
        additional = link.find("additionalModules")
        module_caps = [_number(m.child_text("capacity")) for m in additional.findall("addModule")] \
            if additional is not None else []
        if pre_cap is None or any(c is None for c in module_caps) or \
                not all(math.isfinite(c) for c in [pre_cap, *module_caps]):
            raise DataFormatError(path, link.line,
                                  f"link {link.attrib.get('id')}: a capacity that is not a number")
        if pre_cap < 0 or any(c < 0 for c in module_caps):
            raise DataFormatError(path, link.line, f"link {link.attrib.get('id')}: negative capacity")
        cap = _sndlib_capacity(pre_cap, module_caps)
        links.append(_Link(source, target, {"capacity": cap} if cap is not None else {},
                           f"link {link.attrib.get('id')}", link.line))
    demands = []
    demand_list = root.find("demands")
    for demand in demand_list.findall("demand") if demand_list is not None else []:
        value = _number(demand.child_text("demandValue"))
        source, target = demand.child_text("source"), demand.child_text("target")
        if value is None or not math.isfinite(value) or value < 0 or not source or not target:
            raise DataFormatError(path, demand.line, f"demand {demand.attrib.get('id')}: needs <source>, "
                                                     f"<target> and a non-negative <demandValue>")
        demands.append((source, target, value * SNDLIB_UNIT_BPS, demand.line))
    return _Parsed(path.stem, False, False, nodes, links, demands,
                   capacity_source=SNDLIB_CAPACITY_SOURCE)
