"""The soak: a controller re-optimising fast for many minutes while an operator keeps moving
pairs (pins that alternate paths and weights, unpinned again), judged by whether its memory and
the switches' rule tables stay flat. Root; returns a
:class:`~controller.lab.checks.CheckResult` for `qroute lab reliability`.
"""
from __future__ import annotations

import itertools
import time
from pathlib import Path

import networkx as nx

from controller.lab.checks import CheckResult

WARM_UP_S = 30.0  # imports, first decisions and caches settle before the first memory reading


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def table_sizes(lab) -> dict[str, tuple[int, int]]:
    """(qroute rules, groups) per switch, read from the switches themselves."""
    return {switch.name: (len(lab.qroute_flows(switch.name)),
                          sum(1 for line in lab.dump_groups(switch.name).splitlines() if "group_id=" in line))
            for switch in lab.net.switches}


def moves(lab, pairs: int = 4) -> list[tuple[str, list[dict]]]:
    """For a few switch pairs, the pins to cycle through: the two shortest paths alone, then
    split 0.7/0.3 both ways round (each followed by an unpin, the policy's turn again)."""
    graph = nx.DiGraph((link["src"], link["dst"]) for link in lab.rest("links"))
    switches = sorted(graph.nodes)
    chosen = []
    for src, dst in itertools.combinations(switches, 2):
        if len(chosen) == pairs:
            break
        paths = list(itertools.islice(nx.shortest_simple_paths(graph, src, dst), 2))
        if len(paths) == 2:
            chosen.append((f"{src}-{dst}", [
                {"paths": [paths[0]]}, {"paths": [paths[1]]},
                {"paths": paths, "weights": [0.7, 0.3]}, {"paths": paths, "weights": [0.3, 0.7]}]))
    return chosen


def soak(minutes: float = 10.0, reoptimize_interval: float = 0.5, move_every_s: float = 1.0,
         topology: str = "abilene") -> CheckResult:
    """Pins cycle every `move_every_s` over a few pairs (a path, the other, two splits, unpin)
    while the controller re-optimises every `reoptimize_interval`; memory (RSS) is read after a
    warm-up and at the end, rules and groups in every switch with every pair unpinned at both
    ends; all-pairs ping passes at the end."""
    import mininet.clean

    from controller.lab.mininet_lab import MininetLab
    from topologies.mininet_topos import topos

    mininet.clean.cleanup()
    settings = {"reoptimize_interval": str(reoptimize_interval), "split": "true"}
    with MininetLab(topos[topology](), settings=settings) as lab:
        lab.wait_until_ready()
        assert lab.ping_all() == 0.0, "all-pairs ping failed before the soak"
        plan = moves(lab)
        time.sleep(WARM_UP_S)
        lab.wait_until_settled()
        rss_start, tables_start = rss_kib(lab.controller.pid), table_sizes(lab)
        epoch_start = lab.rest("state")["epoch"]
        refused, done = 0, 0
        deadline = time.monotonic() + 60 * minutes
        for step in itertools.count():
            if time.monotonic() >= deadline:
                break
            pair, pins = plan[step % len(plan)]
            stage = (step // len(plan)) % (len(pins) + 1)
            if stage < len(pins):
                status, _ = lab.rest_write("PUT", f"pins/{pair}", pins[stage])
            else:
                status, _ = lab.rest_write("DELETE", f"pins/{pair}")
            refused += status >= 400 and status != 404
            done += 1
            time.sleep(move_every_s)
        for pair, _ in plan:
            lab.rest_write("DELETE", f"pins/{pair}")
        lab.wait_until_settled(30)
        time.sleep(3 * reoptimize_interval)
        lab.wait_until_settled(30)
        rss_end, tables_end = rss_kib(lab.controller.pid), table_sizes(lab)
        epoch_end = lab.rest("state")["epoch"]
        loss = lab.ping_all()
        alive = lab.controller.poll() is None
    mininet.clean.cleanup()
    growth = rss_end / rss_start - 1
    changed = {name: (tables_start[name], tables_end.get(name)) for name in tables_start
               if tables_start[name] != tables_end.get(name)}
    passed = alive and growth < 0.10 and not changed and loss == 0 and refused == 0
    tables = "unchanged on every switch" if not changed else f"changed on {sorted(changed)}"
    figure = (f"{minutes:g} min, {done} pin changes, {epoch_end - epoch_start} decisions installed: "
              f"RSS {rss_start / 1024:.0f} -> {rss_end / 1024:.0f} MiB ({100 * growth:+.1f}%); "
              f"rules and groups {tables}; ping loss {loss:.0f}%")
    return CheckResult(
        name=f"soak: re-optimisation every {reoptimize_interval:g} s and a pin change every "
             f"{move_every_s:g} s",
        pass_rule="RSS growth < 10% after a warm-up, rules and groups per switch the same at the "
                  "start and the end (every pin undone), all-pairs ping 0% loss, no pin refused",
        figure=figure, passed=passed,
        details={"rss_kib": [rss_start, rss_end], "tables_changed": {k: list(v) for k, v in changed.items()},
                 "decisions": epoch_end - epoch_start, "pin_changes": done, "refused": refused,
                 "ping_loss": loss})
