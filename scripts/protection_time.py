"""How long local protection's backup computation takes per decision on GEANT.

Every decision with ``local_protection = true`` calls ``controller.protection.protect`` for all
installed tunnels: here GEANT's tunnels file (3 per switch pair, 1,386 tunnels) on its 72
directed links. It prints the median of ``--repeat`` calls on the links of the call before
(most decisions: the backup paths are kept per set of links) and on a set of links never seen
(a cable just gone: every backup path computed afresh), with the number of backup tunnels.

Run from the repository root: ``PYTHONPATH=. .venv/bin/python scripts/protection_time.py``.
The data is found by the usual rule (``$QROUTE_DATA_DIR``, else ``../shared/data``).
"""
from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace

from controller.protection import protect
from controller.tunnel_labels import allocate
from qnn.problems import candidate_pathset, load_network
from topologies.datadir import require_data


def geant_tunnels():
    network = load_network("geant")
    pathset, _ = candidate_pathset("geant", network, 3, "weight",
                                   tunnels=str(require_data("geant", "tunnels.txt")))
    paths = [tuple(node + 1 for node in path) for paths in pathset.paths for path in paths if path]
    ports: dict[int, int] = {}
    links = {}
    for u, v in network.links:  # switch dpid = node + 1, ports numbered in link order
        ports[u + 1] = ports.get(u + 1, 0) + 1
        links[(u + 1, v + 1)] = SimpleNamespace(src_port=ports[u + 1])
    return allocate(paths, {}, set()), links


def timed(labels, links) -> tuple[float, int]:
    started = time.perf_counter()
    protected = protect(labels, links, {}, set(labels.values()))
    return (time.perf_counter() - started) * 1000, len(protected.backups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    labels, links = geant_tunnels()
    timed(labels, links)  # the first call on these links computes their backups
    kept = [timed(labels, links) for _ in range(args.repeat)]
    fresh = []
    for cable in sorted(links)[:args.repeat]:
        rest = {link: ports for link, ports in links.items() if link not in (cable, cable[::-1])}
        usable = {path: label for path, label in labels.items()
                  if all(hop in rest for hop in zip(path, path[1:]))}
        fresh.append(timed(usable, rest))
    print(f"GEANT: {len(labels)} tunnels on {len(links)} links, {kept[0][1]} backup tunnels")
    print(f"protect() on the links of the call before: {statistics.median(t for t, _ in kept):.1f} ms "
          f"(median of {args.repeat})")
    print(f"protect() on links never seen (one cable gone): {statistics.median(t for t, _ in fresh):.1f} ms "
          f"(median of {args.repeat})")


if __name__ == "__main__":
    main()
