"""Reliability check: ``kill -9`` of the controller and a restart under a 100 pps ping stream.

Pass rule (issue 15's target): no packet of the stream lost, the restarted controller done
resyncing (every switch read back, the start-up hold over) within 10 s of its start, and no
qroute rule that was still right deleted or replaced, judged from the switches themselves
(``ovs-ofctl dump-flows``: every qroute rule of before is there after, with the same actions,
its duration not reset and its packet counter not gone back) and their group table unchanged.
The base rules, which every connecting switch gets again by an idempotent ADD, are counted
apart. Needs root.
"""
from __future__ import annotations

import re
import subprocess
import time

from controller.lab.checks import CheckResult

NAME = "controller kill -9 and restart under a 100 pps stream"
PASS_RULE = ("0 packets lost, resync within 10 s, no qroute rule that was still right deleted "
             "or replaced (read from the switches)")
BASE_PRIORITIES = (0, 30000)   # table miss, broadcast ARP: re-added on every connect
RESYNC_LIMIT_S = 10.0


def _ping_log(path: str) -> tuple[int, int, float]:
    """(transmitted, received, longest gap between replies in s) of a finished `ping -D` log."""
    text = open(path, encoding="utf-8", errors="replace").read()
    summary = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    stamps = [float(t) for t in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", text, re.M)]
    gap = max((b - a for a, b in zip(stamps, stamps[1:])), default=0.0)
    return (int(summary.group(1)), int(summary.group(2)), gap) if summary else (0, 0, 0.0)


def _groups(lab, switch: str) -> list[str]:
    return sorted(line.strip() for line in lab.dump_groups(switch).splitlines() if "group_id=" in line)


def compare_rules(before: dict, after: dict, elapsed_s: float) -> dict:
    """Of the qroute rules `before` (``MininetLab.qroute_flows`` of each switch), which are
    kept (same key and actions, duration grown by at least `elapsed_s` less a second, packet
    counter not lower), and which were deleted or replaced."""
    kept, replaced, deleted, base_readded = 0, [], [], 0
    for switch, flows in before.items():
        for key, old in flows.items():
            new = after.get(switch, {}).get(key)
            if new is None:
                deleted.append(f"{switch} {key}")
                continue
            same = (new["actions"] == old["actions"] and new["n_packets"] >= old["n_packets"]
                    and new["duration_s"] >= old["duration_s"] + elapsed_s - 1.0)
            if same:
                kept += 1
            elif key[1] in BASE_PRIORITIES and new["actions"] == old["actions"]:
                base_readded += 1
            else:
                replaced.append(f"{switch} {key}: {old['actions']} -> {new['actions']}")
    added = sum(1 for switch, flows in after.items() for key in flows if key not in before.get(switch, {}))
    return {"kept": kept, "replaced": replaced, "deleted": deleted, "added": added,
            "base_readded": base_readded}


def check_kill_and_restart(down_s: float = 3.0, rate_pps: int = 100, topology: str = "abilene",
                           src: str = "h11", dst: str = "h8", state_file: bool = True,
                           late: tuple[str, ...] = ()) -> CheckResult:
    """Abilene by default (`topology`: any Mininet topology name of topologies.mininet_topos);
    the stream runs from `src` to `dst` while the controller is killed, stays away `down_s`
    seconds and is started again. Without `state_file` the controller keeps none: the
    restarted one knows hosts and paths from the switches' rules alone. The switches in `late`
    connect to the restarted controller 3 s after the others."""
    import mininet.clean

    from controller.lab.mininet_lab import MininetLab
    from topologies.mininet_topos import topos

    mininet.clean.cleanup()
    lab = MininetLab(topos[topology](), settings=None if state_file else {"state_file": ""})
    try:
        lab.start()
        lab.wait_until_ready()
        lab.ping_all()
        lab.wait_until_settled()
        lab.wait_for_path(src, dst)
        switches = [switch.name for switch in lab.net.switches]
        time.sleep(1.0)   # the state file is written after the last decision
        before = {switch: lab.qroute_flows(switch) for switch in switches}
        groups_before = {switch: _groups(lab, switch) for switch in switches}
        after_s = RESYNC_LIMIT_S + 2.0
        seconds = 2.0 + down_s + after_s
        log_path = lab.log_path + ".ping"
        with open(log_path, "w") as log:
            # a count, not a deadline (-w): the deadline would cut off the last reply in flight
            ping = lab.host(src).popen(["ping", "-n", "-D", "-i", f"{1 / rate_pps:g}", "-c",
                                        str(round(seconds * rate_pps)), "-W", "1", lab.host(dst).IP()],
                                       stdout=log, stderr=subprocess.STDOUT)
        time.sleep(2.0)
        killed = time.monotonic()
        lab.restart_controller(kill=True, down_s=down_s, late=late)
        started = killed + down_s   # when the new controller process was started
        resync_s, view = None, {}
        while time.monotonic() - started < RESYNC_LIMIT_S + 5.0:
            view = lab.rest("resync")
            if view["hold_ended_s"] is not None and len(view["switches"]) == len(switches) and all(
                    entry["state"] == "read back" for entry in view["switches"].values()):
                resync_s = time.monotonic() - started
                break
            time.sleep(0.1)
        lab.wait_until_settled()
        ping.wait(timeout=seconds + 60)
        elapsed = time.monotonic() - killed
        transmitted, received, gap = _ping_log(log_path)
        after = {switch: lab.qroute_flows(switch) for switch in switches}
        groups_after = {switch: _groups(lab, switch) for switch in switches}
        rules = compare_rules(before, after, elapsed - 1.0)
        groups_changed = [switch for switch in switches if groups_before[switch] != groups_after[switch]]
        lost = transmitted - received
        passed = (lost == 0 and transmitted > 0 and resync_s is not None and resync_s <= RESYNC_LIMIT_S
                  and not rules["deleted"] and not rules["replaced"] and not groups_changed)
        figure = (f"{lost} of {transmitted} lost (longest gap {gap * 1000:.0f} ms), resynced "
                  f"{'never' if resync_s is None else f'in {resync_s:.1f} s'} after the restart, "
                  f"{rules['kept']} qroute rules kept, {len(rules['deleted'])} deleted, "
                  f"{len(rules['replaced'])} replaced, {rules['added']} added, "
                  f"{len(groups_changed)} group tables changed")
        details = {"topology": topology, "state_file": state_file, "down_s": down_s, "late": list(late),
                   "rate_pps": rate_pps, "src": src, "dst": dst,
                   "transmitted": transmitted, "received": received, "lost": lost,
                   "longest_gap_ms": round(gap * 1000), "resync_s": resync_s,
                   "rules_before": sum(len(f) for f in before.values()),
                   "rules_after": sum(len(f) for f in after.values()), **rules,
                   "groups_changed": groups_changed, "resync_view": view,
                   # read-backs that left select groups for a switch not connected yet to name
                   "read_backs_waiting_for_a_switch": lab.controller_log().count(
                       "select groups towards switches not connected yet left as they are")}
        return CheckResult(NAME, PASS_RULE, figure, passed, details)
    finally:
        lab.stop()
        mininet.clean.cleanup()
