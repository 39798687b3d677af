"""The controller's state file: what a restarted controller needs to know at once.

Hosts (mac, dpid, port, ip), links with their ports, tunnel labels (path -> label), splits, the
links an operator drained and the epoch, as JSON, written atomically (a temporary file in the
same folder, fsync, rename, fsync of the folder) after every committed decision and whenever
hosts or drains change. A controller that starts loads it, so that hosts and paths are known
without waiting for traffic, the labels read back from the switches are known as paths again,
and drained links stay out of the graph.

A file that cannot be read, is not qroute's, is of another version, was written for another
topology or does not hold together is refused as a whole with a message naming the problem:
the controller then starts knowing nothing, as it would without a file (nothing is flushed).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from controller.netstate import HostLocation
from controller.ofmsgs import MAX_LABEL, MIN_LABEL
from controller.splits import Link, Pair, Split, SwitchPath

FORMAT = "qroute-state"
VERSION = 1


class StateFileError(ValueError):
    """A state file that cannot be used, with the reason."""


@dataclass
class SavedState:
    topology: str = ""
    epoch: int = 0
    hosts: dict[str, HostLocation] = field(default_factory=dict)
    links: dict[Link, tuple[int, int]] = field(default_factory=dict)   # (src port, dst port)
    labels: dict[SwitchPath, int] = field(default_factory=dict)
    splits: dict[Pair, Split] = field(default_factory=dict)
    backups: dict[SwitchPath, int] = field(default_factory=dict)   # local protection's tunnels
    drained: set[Link] = field(default_factory=set)   # cables an operator drained (low dpid first)

    def switches(self) -> set[int]:
        """The switches the file's hosts, links and tunnels are on: those a restarted
        controller waits for before it changes anything."""
        found = {host.dpid for host in self.hosts.values()} | {d for link in self.links for d in link}
        return found | {dpid for path in [*self.labels, *self.backups] for dpid in path}

    def path_links(self) -> set[Link]:
        """The links the file's tunnels (backups included) run over."""
        return {link for path in [*self.labels, *self.backups] for link in zip(path, path[1:])}


def to_json(saved: SavedState) -> dict:
    return {
        "format": FORMAT, "version": VERSION, "topology": saved.topology, "epoch": saved.epoch,
        "hosts": [{"mac": h.mac, "dpid": h.dpid, "port": h.port, "ip": h.ip}
                  for h in sorted(saved.hosts.values(), key=lambda h: h.mac)],
        "links": [{"src": s, "dst": d, "src_port": ports[0], "dst_port": ports[1]}
                  for (s, d), ports in sorted(saved.links.items())],
        "labels": [{"path": list(path), "label": label}
                   for path, label in sorted(saved.labels.items(), key=lambda item: item[1])],
        "splits": [{"src": src, "dst": dst, "paths": [{"path": list(p), "share": w} for p, w in split]}
                   for (src, dst), split in sorted(saved.splits.items())],
        "backups": [{"path": list(path), "label": label}
                    for path, label in sorted(saved.backups.items(), key=lambda item: item[1])],
        "drained": [{"src": a, "dst": b} for a, b in sorted(saved.drained)],
    }


def _int(value, what: str, low: int = 0, high: int = 2 ** 64 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StateFileError(f"{what} is {value!r}, not an integer in {low}..{high}")
    return value


def _path(value, what: str) -> SwitchPath:
    if not isinstance(value, list) or len(value) < 2:
        raise StateFileError(f"{what} is {value!r}, not a path of at least two switches")
    path = tuple(_int(d, f"a dpid in {what}") for d in value)
    if len(set(path)) != len(path):
        raise StateFileError(f"{what} {list(path)} visits a switch twice")
    return path


def _records(data: dict, key: str) -> list[dict]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise StateFileError(f"'{key}' is not a list of objects")
    return value


def from_json(data, topology: str = "", topology_links: Collection[Link] | None = None) -> SavedState:
    """The state a file holds, checked: its format and version, that it was written for
    `topology` (the configured one) and, when the topology's links are known, that its links
    are among them; that labels are VLAN ids, one per path, and splits use labelled paths
    whose shares sum to 1. Raises StateFileError naming the first problem."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateFileError(f"not a qroute state file (no \"format\": \"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise StateFileError(f"version {data.get('version')!r}, this controller reads version {VERSION}")
    if data.get("topology", "") != topology:
        raise StateFileError(f"written for topology {data.get('topology', '')!r}, the controller runs "
                             f"with topology {topology!r}")
    saved = SavedState(topology=topology, epoch=_int(data.get("epoch", 0), "epoch", high=2 ** 32 - 1))
    for item in _records(data, "hosts"):
        mac = item.get("mac")
        if not isinstance(mac, str) or len(mac.split(":")) != 6:
            raise StateFileError(f"host mac {mac!r} is not a MAC address")
        ip = item.get("ip")
        if ip is not None and not isinstance(ip, str):
            raise StateFileError(f"host {mac} has ip {ip!r}")
        saved.hosts[mac.lower()] = HostLocation(mac.lower(), _int(item.get("dpid"), f"host {mac} dpid"),
                                                _int(item.get("port"), f"host {mac} port"), ip)
    for item in _records(data, "links"):
        link = (_int(item.get("src"), "link src"), _int(item.get("dst"), "link dst"))
        if topology_links is not None and link not in topology_links:
            raise StateFileError(f"link {link[0]}-{link[1]} is not in topology {topology!r}")
        saved.links[link] = (_int(item.get("src_port"), f"link {link} src_port"),
                             _int(item.get("dst_port"), f"link {link} dst_port"))
    for item in _records(data, "labels"):
        path = _path(item.get("path"), "a labelled path")
        label = _int(item.get("label"), f"the label of {list(path)}", MIN_LABEL, MAX_LABEL)
        if path in saved.labels or label in saved.labels.values():
            raise StateFileError(f"label {label} or path {list(path)} given twice")
        saved.labels[path] = label
    for item in _records(data, "splits"):
        pair = (_int(item.get("src"), "split src"), _int(item.get("dst"), "split dst"))
        split = []
        for entry in item.get("paths", []) if isinstance(item.get("paths"), list) else [None]:
            if not isinstance(entry, dict) or not isinstance(entry.get("share"), (int, float)):
                raise StateFileError(f"split {pair} has an entry {entry!r} without a share")
            path = _path(entry.get("path"), f"a path of split {pair}")
            if path not in saved.labels or (path[0], path[-1]) != pair:
                raise StateFileError(f"split {pair} uses path {list(path)}, which has no label or "
                                     f"does not join the pair")
            split.append((path, float(entry["share"])))
        if not split or abs(sum(share for _, share in split) - 1.0) > 1e-6 or \
                any(not 0 < share <= 1 for _, share in split):
            raise StateFileError(f"split {pair}'s shares do not sum to 1")
        saved.splits[pair] = tuple(split)
    for item in _records(data, "backups"):  # (absent from files written before protection)
        path = _path(item.get("path"), "a backup's path")
        label = _int(item.get("label"), f"the label of backup {list(path)}", MIN_LABEL, MAX_LABEL)
        if path in saved.backups or label in saved.backups.values() or label in saved.labels.values():
            raise StateFileError(f"backup label {label} or path {list(path)} given twice")
        saved.backups[path] = label
    for item in _records(data, "drained"):  # (absent from files written before drains)
        a, b = _int(item.get("src"), "drained link src"), _int(item.get("dst"), "drained link dst")
        if a == b:
            raise StateFileError(f"drained link {a}-{b} has the same switch at both ends")
        saved.drained.add((min(a, b), max(a, b)))
    return saved


def load(path: str, topology: str = "",
         topology_links: Collection[Link] | None = None) -> tuple[SavedState | None, str]:
    """(the state, "") from the file at `path`, or (None, why not): no file is not a problem
    (None, ""); anything else unusable is, and is named with the path."""
    path = os.path.expanduser(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None, ""
    except (OSError, UnicodeDecodeError) as error:
        return None, f"state file {path} cannot be read ({error}); starting without it"
    try:
        data = json.loads(text)
    except ValueError as error:
        return None, f"state file {path} is not JSON ({error}); starting without it"
    try:
        return from_json(data, topology, topology_links), ""
    except StateFileError as error:
        return None, f"state file {path} is not used: {error}; starting without it"


def write(path: str, saved: SavedState) -> None:
    """Write atomically: a reader (or a controller starting after a crash at any point) sees
    the old file or the new one, never a part of one."""
    path = os.path.expanduser(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    text = json.dumps(to_json(saved), indent=1)
    handle, temporary = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def snapshot(topology: str, epoch: int, hosts: Mapping[str, HostLocation],
             links: Mapping[Link, object], labels: Mapping[SwitchPath, int],
             splits: Mapping[Pair, Split],
             backups: Mapping[SwitchPath, int] | None = None,
             drained: Collection[Link] = ()) -> SavedState:
    """The state to save: `links` maps each directed link to its ports (``src_port``,
    ``dst_port`` attributes, as NetworkState keeps them)."""
    return SavedState(topology=topology, epoch=epoch, hosts=dict(hosts),
                      links={link: (ports.src_port, ports.dst_port) for link, ports in links.items()},
                      labels=dict(labels), splits=dict(splits), backups=dict(backups or {}),
                      drained={(min(link), max(link)) for link in drained})
