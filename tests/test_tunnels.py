"""InstalledTunnels against a replayed switch table: every plan's messages are serialised,
parsed back and applied to simulated switches (tests/tables_sim.py), and at every phase
boundary a frame of every host pair is walked through the tables and every bucket of every
group it meets."""
from __future__ import annotations

import pytest

from controller import ofmsgs
from controller.tunnel_labels import LabelsExhausted
from controller.netstate import NetworkState
from controller.tunnels import InstalledTunnels
from tests.tables_sim import Outcome, TableSim, assert_record_is_true

N = 6
CHORD = (2, 5)


def host_mac(dpid: int, k: int = 0) -> str:
    return f"00:00:00:00:{dpid:02x}:{k:02x}"


def ring_state(n: int = N, hosts_per_switch: int = 1, chord: tuple[int, int] | None = None) -> NetworkState:
    """Switches 1..n in a ring (optionally one chord); the port towards switch j is port j,
    host k of a switch sits on port 100 + k."""
    state = NetworkState()
    edges = [(i, i % n + 1) for i in range(1, n + 1)] + ([chord] if chord else [])
    for a, b in edges:
        state.add_link(a, b, b, a)
        state.add_link(b, a, a, b)
    for dpid in range(1, n + 1):
        state.add_port(dpid, 100)
        for k in range(hosts_per_switch):
            state.learn_host(host_mac(dpid, k), dpid, 100 + k)
    return state


def around(a: int, b: int, step: int, n: int = N) -> tuple[int, ...]:
    path = [a]
    while path[-1] != b:
        path.append((path[-1] - 1 + step) % n + 1)
    return tuple(path)


def ring_split(a: int, b: int, short_share: float = 0.7, n: int = N):
    """Both ways round the ring; the shorter way gets `short_share` (equal lengths: halves)."""
    cw, ccw = around(a, b, 1, n), around(a, b, -1, n)
    if len(cw) == len(ccw):
        return ((cw, 0.5), (ccw, 0.5))
    short, long = (cw, ccw) if len(cw) < len(ccw) else (ccw, cw)
    return ((short, short_share), (long, 1 - short_share))


def ring_decision(state: NetworkState, n: int = N) -> dict:
    return {pair: ring_split(*pair, n=n) for pair in state.switch_pairs()}


def sim_for(state: NetworkState) -> TableSim:
    sim = TableSim({link: (ports.src_port, ports.dst_port) for link, ports in state.links.items()})
    for dpid in sorted(state.switches):
        sim.apply([(dpid, m) for m in ofmsgs.switch_reset()])
    return sim


def hosts_of(state: NetworkState) -> dict[str, tuple[int, int]]:
    return {mac: (h.dpid, h.port) for mac, h in state.hosts.items()}


def intact(path, links) -> bool:
    return all(link in links for link in zip(path, path[1:]))


def served(src_dpid: int, dst_dpid: int, hosts, decided, links) -> bool:
    """Whether a decision routes frames entering at `src_dpid` for a host on `dst_dpid`."""
    if src_dpid not in {dpid for dpid, _ in hosts.values()}:
        return False
    if src_dpid == dst_dpid:
        return True
    return any(intact(path, links) for path, _ in decided.get((src_dpid, dst_dpid), ()))


def check_frames(sim: TableSim, before, after, final: bool) -> None:
    """`before`/`after`: (hosts {mac: (dpid, port)}, decided splits) of the two decisions.
    A frame from every host (where it is after) to every host known on either side must, for
    every bucket choice, reach the destination's port (before's or after's place; after's
    alone when `final`) over a decided path, untagged, when both decisions route it (after's
    alone when `final`); otherwise it may also miss at its ingress switch (not yet classified,
    or no longer), and never end anywhere else."""
    (hosts_before, decided_before), (hosts_after, decided_after) = before, after
    destinations = {**hosts_before, **hosts_after}
    for src, (src_dpid, src_port) in sorted(hosts_after.items()):
        for dst in sorted(destinations):
            if dst == src:
                continue
            places = {hosts_after[dst]} if dst in hosts_after else set()
            if not final and dst in hosts_before:
                places.add(hosts_before[dst])
            routed_after = dst in hosts_after and served(src_dpid, hosts_after[dst][0], hosts_after,
                                                         decided_after, sim.links)
            routed_before = dst in hosts_before and served(src_dpid, hosts_before[dst][0], hosts_before,
                                                           decided_before, sim.links)
            must = routed_after if final else routed_after and routed_before
            outcomes = sim.walk(src_dpid, src_port, dst)
            missed = [Outcome("controller", src_dpid, None, (src_dpid,), None)]
            if outcomes == missed and not must:
                continue
            paths = {path for decided in (decided_before, decided_after)
                     for split in decided.values() for path, _ in split}
            for outcome in outcomes:
                where = (outcome.dpid, outcome.port)
                assert outcome.kind == "host" and where in places and outcome.vid is None, (
                    src, dst, outcome, places)
                assert outcome.path == (src_dpid,) or outcome.path in paths, (src, dst, outcome)
            if final or must:
                assert outcomes, (src, dst)


def run(sim, tunnels, state, decided, before, check_start=True):
    """Resolve, plan, apply phase by phase checking frames at each boundary (also before the
    first unless told not to: a wiped switch breaks tunnels until the plan restores them),
    commit."""
    desired = tunnels.resolve(decided, state)
    change = tunnels.diff(desired)
    plan = tunnels.plan(desired)
    after = (hosts_of(state), decided)
    if check_start:
        check_frames(sim, before, after, final=False)
    for index, phase in enumerate(plan.phases):
        sim.apply(phase)
        if index < len(plan.phases) - 1:
            check_frames(sim, before, after, final=False)
    sim.apply(tunnels.commit(desired))
    check_frames(sim, before, after, final=True)
    assert_record_is_true(sim, tunnels)
    return change, plan, after


def installed_ring(chord=None, hosts_per_switch=1):
    state = ring_state(chord=chord, hosts_per_switch=hosts_per_switch)
    sim, tunnels = sim_for(state), InstalledTunnels()
    decided = ring_decision(state)
    _, plan, after = run(sim, tunnels, state, decided, ({}, {}))
    return state, sim, tunnels, after, plan


def kinds(phase):
    """What each message of a phase is, in words."""
    out = set()
    for _, msg in phase:
        if isinstance(msg, ofmsgs.parser.OFPGroupMod):
            out.add({0: "group add", 1: "group modify", 2: "group delete"}[msg.command])
        else:
            role = {(0, ofmsgs.PRIORITY_TUNNEL): "tunnel", (0, ofmsgs.PRIORITY_CLASSIFY): "classify",
                    (1, ofmsgs.PRIORITY_DELIVER): "deliver"}[(msg.table_id, msg.priority)]
            out.add(f"{role} {'add' if msg.command == 0 else 'delete'}")
    return out


# --- scenarios ----------------------------------------------------------------------------
def test_fresh_install_goes_tunnels_then_groups_then_classification_and_delivers_every_pair():
    state, sim, tunnels, _, plan = installed_ring()
    assert [kinds(phase) for phase in plan.phases] == [
        {"tunnel add", "deliver add"}, {"group add"}, {"classify add"}]
    # 30 pairs: 12 adjacent (2 tunnels: 1 hop and 5), 12 two apart (2 and 4), 6 opposite (3 and 3)
    assert len(tunnels.labels) == 60 and sorted(tunnels.labels.values()) == list(range(1, 61))
    assert tunnels.epoch == 1
    rules, groups = sim.contents(1)
    cw, ccw = (1, 2, 3), (1, 6, 5, 4, 3)
    assert groups[3] == ((tunnels.labels[cw], 700, 2), (tunnels.labels[ccw], 300, 6))
    assert groups[4] == ((tunnels.labels[(1, 2, 3, 4)], 500, 2), (tunnels.labels[(1, 6, 5, 4)], 500, 6))
    assert rules[("classify", host_mac(3))] == ("group", 3)
    assert rules[("classify", host_mac(1))] == ("port", 100)
    assert sim.contents(2)[0][("tunnel", tunnels.labels[cw])] == 3
    assert sim.contents(3)[0][("tunnel", tunnels.labels[cw])] is None
    assert tunnels.group_pair(1, 3) == (1, 3) and tunnels.group_pair(1, 1) is None
    assert tunnels.group_pair(1, 99) is None


def test_a_weight_change_is_one_group_modification():
    state, sim, tunnels, before, _ = installed_ring()
    decided = dict(before[1])
    (short, _), (long, _) = decided[(1, 3)]
    decided[(1, 3)] = ((short, 0.4), (long, 0.6))
    change, plan, _ = run(sim, tunnels, state, decided, before)
    assert change.reweighted == [(1, 3)] and not (change.new or change.rerouted or change.dropped)
    assert len(plan.phases) == 1 and kinds(plan.phases[0]) == {"group modify"}
    ((dpid, mod),) = plan.phases[0]
    assert (dpid, mod.group_id, [b.weight for b in mod.buckets]) == (1, 3, [400, 600])
    assert tunnels.epoch == 2


def test_a_path_change_installs_the_new_tunnel_first_and_removes_the_old_one_last():
    state, sim, tunnels, before, _ = installed_ring(chord=CHORD)
    old_label = tunnels.labels[(1, 2, 3, 4)]
    decided = dict(before[1])
    decided[(1, 4)] = (((1, 2, 5, 4), 0.6), ((1, 6, 5, 4), 0.4))
    change, plan, _ = run(sim, tunnels, state, decided, before)
    assert change.rerouted == [(1, 4)] and change.entries > 0
    assert [kinds(phase) for phase in plan.phases] == [{"tunnel add"}, {"group modify"}, {"tunnel delete"}]
    new_label = tunnels.labels[(1, 2, 5, 4)]
    assert new_label not in range(1, 61)            # a fresh label: the old ones were all taken
    assert sorted(d for d, _ in plan.phases[0]) == [2, 4, 5]
    assert sorted(d for d, _ in plan.phases[2]) == [2, 3, 4]
    assert (1, 2, 3, 4) not in tunnels.labels and old_label not in tunnels.labels.values()


def test_a_switch_losing_its_hosts_drops_its_pairs_groups_and_tunnels():
    state, sim, tunnels, before, _ = installed_ring()
    del state.hosts[host_mac(6)]
    decided = ring_decision(state)
    change, plan, _ = run(sim, tunnels, state, decided, before)
    assert change.dropped == sorted([(6, j) for j in range(1, 6)] + [(i, 6) for i in range(1, 6)])
    assert change.hosts_gone == [host_mac(6)]
    assert [kinds(phase) for phase in plan.phases] == [
        {"classify delete"}, {"group delete"}, {"tunnel delete", "deliver delete"}]
    assert not any(6 in (path[0], path[-1]) for path in tunnels.labels)
    rules, groups = sim.contents(6)
    assert groups == {} and all(key[0] in ("base", "tunnel") for key in rules)


def test_a_host_moving_to_another_switch_is_delivered_at_both_places_until_it_is_done():
    state, sim, tunnels, before, _ = installed_ring()
    moved = host_mac(3)
    assert state.learn_host(moved, 5, 101)
    decided = ring_decision(state)
    change, plan, _ = run(sim, tunnels, state, decided, before)
    assert change.hosts_moved == [moved] and len(change.dropped) == 10   # s3 has no host left
    rules, _ = sim.contents(1)
    assert rules[("classify", moved)] == ("group", 5)
    assert sim.walk(1, 100, moved)[0].dpid == 5


def test_a_link_down_drops_its_buckets_at_once_and_the_next_decision_cleans_up():
    state, sim, tunnels, before, _ = installed_ring()
    down = [(2, 3), (3, 2)]
    for link in down:
        state.remove_link(*link)
        del sim.links[link]
    messages = tunnels.links_down(down)
    assert {type(m) for _, m in messages} == {ofmsgs.parser.OFPGroupMod}
    sim.apply(messages)
    survivors = {pair: tuple(p for p in split if intact(p[0], sim.links))
                 for pair, split in before[1].items()}
    check_frames(sim, before, (before[0], survivors), final=True)
    assert_record_is_true(sim, tunnels)
    # s1 -> s3: only the long way is left, with all the weight
    assert sim.contents(1)[1][3] == ((tunnels.labels[(1, 6, 5, 4, 3)], 1000, 6),)
    dead = [path for path in tunnels.labels if not intact(path, sim.links)]
    assert dead  # their rules stay until a decision no longer uses them
    change, plan, _ = run(sim, tunnels, state, ring_decision(state), (before[0], survivors))
    assert not any(not intact(path, sim.links) for path in tunnels.labels)
    assert kinds(plan.phases[-1]) == {"tunnel delete"}


@pytest.mark.parametrize("restarted", [False, True])
def test_a_switch_reconnecting_during_a_plan_is_read_again_at_commit_and_gets_what_it_missed(restarted):
    """s2's connection drops while a plan runs: what the plan sent it before the new
    connection was lost (and with `restarted` its tables too). Commit records it empty and
    asks for it to be read again; once adopted, the next decision sends s2 exactly what it
    misses (groups it still has are modified, never added twice) and nothing elsewhere."""
    from controller.readback import read_switch

    state, sim, tunnels, before, _ = installed_ring(chord=CHORD)
    decided = dict(before[1])
    decided[(1, 4)] = (((1, 2, 5, 4), 0.6), ((1, 6, 5, 4), 0.4))
    desired = tunnels.resolve(decided, state)
    plan = tunnels.plan(desired)
    sim.apply([(d, m) for d, m in plan.phases[0] if d != 2])   # lost on the old connection
    if restarted:
        sim.wipe(2)
        sim.apply([(2, m) for m in ofmsgs.base_rules()])       # what a connecting switch gets
    tunnels.switch_reconnected(2)
    for phase in plan.phases[1:]:
        sim.apply(phase)
    sim.apply(tunnels.commit(desired))
    assert tunnels.reread == [2]
    assert not any(dpid == 2 for dpid, _ in tunnels.record.tunnel_rules)
    tunnels.adopt(read_switch(2, *sim.read_back(2)), now=0.0)
    assert_record_is_true(sim, tunnels)
    change, plan, _ = run(sim, tunnels, state, decided, (hosts_of(state), {}), check_start=False)
    assert change and {dpid for dpid, _ in plan.messages()} == {2}
    assert tunnels.reread == []  # that plan went whole: nothing to read again
    missed = {(2, label) for (dpid, label) in desired.tunnel_rules if dpid == 2}
    if not restarted:  # only the new tunnel's rule on s2 went missing
        missed = {(2, tunnels.labels[(1, 2, 5, 4)])}
    assert [kinds(phase) for phase in plan.phases][0] == {"tunnel add"} | (
        {"deliver add"} if restarted else set())
    assert {(2, m.match["vlan_vid"] & 0xFFF) for _, m in plan.phases[0] if m.table_id == 0} == missed
    check_frames(sim, (hosts_of(state), decided), (hosts_of(state), decided), final=True)


@pytest.mark.parametrize("lost", [False, True], ids=["applied", "lost"])
def test_a_plan_stopped_after_its_first_phase_is_read_back_and_finished_by_the_next(lost):
    """A plan moves pair 1-4 and stops after its first phase (a switch did not confirm it; with
    `lost` that switch never applied it). The installed splits still deliver; abort records the
    switches the phase reached as unknown until read back, and once they are adopted the next
    plan of the same decision ends with the switches holding exactly the record."""
    from controller.readback import read_switch

    state, sim, tunnels, before, _ = installed_ring(chord=CHORD)
    decided = dict(before[1])
    decided[(1, 4)] = (((1, 2, 5, 4), 0.6), ((1, 6, 5, 4), 0.4))
    plan = tunnels.plan(tunnels.resolve(decided, state))
    first = plan.phases[0]
    silent = max(dpid for dpid, _ in first)
    sim.apply([(d, m) for d, m in first if not (lost and d == silent)])
    tunnels.abort({dpid for dpid, _ in first})
    assert tunnels.pending is None and tunnels.reread == sorted({dpid for dpid, _ in first})
    assert not any(dpid in tunnels.reread for dpid, _ in tunnels.record.tunnel_rules)
    check_frames(sim, before, before, final=False)  # the old splits still deliver
    for dpid in tunnels.reread:
        tunnels.adopt(read_switch(dpid, *sim.read_back(dpid)), now=0.0)
    assert_record_is_true(sim, tunnels)
    assert tunnels.held_labels() == set()  # the new tunnels read back are known as their paths
    _, again, _ = run(sim, tunnels, state, decided, before)
    assert again.phases and tunnels.splits[(1, 4)] == tunnels.resolve(decided, state).splits[(1, 4)]


# --- resolve ------------------------------------------------------------------------------
def test_resolve_leaves_out_broken_paths_and_renormalises():
    state = ring_state()
    state.remove_link(1, 2)
    desired = InstalledTunnels().resolve({(1, 3): ring_split(1, 3)}, state)
    assert desired.splits == {(1, 3): (((1, 6, 5, 4, 3), 1.0),)}
    assert desired.groups[(1, 3)] == ((1, 1000, 6),)


def test_resolve_keeps_an_intact_installed_split_when_every_decided_path_broke():
    state, sim, tunnels, before, _ = installed_ring(chord=CHORD)
    state.remove_link(2, 5)
    desired = tunnels.resolve({(1, 4): (((1, 2, 5, 4), 1.0),)}, state)
    assert desired.splits == {(1, 4): before[1][(1, 4)]}
    state.remove_link(2, 3)                         # the installed split broke too
    assert tunnels.resolve({(1, 4): (((1, 2, 5, 4), 1.0),)}, state).splits == {}


def test_resolve_ignores_pairs_without_hosts_and_invalid_paths():
    state = ring_state()
    del state.hosts[host_mac(4)]
    decided = {(1, 4): ring_split(1, 4), (1, 3): (((1, 2, 3, 2, 3), 0.5), ((1, 2, 3), 0.5)),
               (2, 3): (((1, 2, 3), 1.0),)}
    desired = InstalledTunnels().resolve(decided, state)
    assert desired.splits == {(1, 3): (((1, 2, 3), 1.0),)}   # a loop and a wrong ingress left out


def test_tiny_shares_still_get_a_bucket_of_weight_one():
    state = ring_state()
    (short, _), (long, _) = ring_split(1, 3)
    desired = InstalledTunnels().resolve({(1, 3): ((short, 0.9996), (long, 0.0004))}, state)
    assert [weight for _, weight, _ in desired.groups[(1, 3)]] == [1000, 1]


# --- labels -------------------------------------------------------------------------------
def test_a_label_freed_by_a_plan_is_not_reused_before_it_is_committed():
    state = ring_state(chord=CHORD)
    tunnels = InstalledTunnels()
    first = tunnels.resolve({(1, 4): (((1, 2, 3, 4), 1.0),)}, state)
    tunnels.plan(first)
    tunnels.commit(first)
    assert tunnels.labels == {(1, 2, 3, 4): 1}
    second = tunnels.resolve({(1, 4): (((1, 2, 5, 4), 1.0),)}, state)
    assert second.labels == {(1, 2, 5, 4): 2}       # 1 is still in the switches
    tunnels.plan(second)
    assert tunnels.resolve({(1, 4): (((1, 2, 5, 4), 1.0),)}, state).labels == {(1, 2, 5, 4): 2}
    tunnels.commit(second)
    third = tunnels.resolve({(1, 4): (((1, 2, 5, 4), 0.5), ((1, 6, 5, 4), 0.5))}, state)
    assert third.labels == {(1, 2, 5, 4): 2, (1, 6, 5, 4): 1}


def test_running_out_of_labels_is_a_clear_error_naming_the_counts():
    state = ring_state()
    tunnels = InstalledTunnels()
    # 4093 labels held by installed tunnels (elsewhere); the decision needs two new ones
    held = {tuple(range(1000 + i, 1003 + i)): i for i in range(1, 4094)}
    tunnels.record = tunnels.record.__class__(labels=held)
    with pytest.raises(LabelsExhausted, match=r"needs 2 tunnels, 2 of them new, but only 1 of the 4094"):
        tunnels.resolve({(1, 4): ring_split(1, 4)}, state)
    assert tunnels.resolve({(1, 3): (((1, 2, 3), 1.0),)}, state).labels == {(1, 2, 3): 4094}


@pytest.mark.parametrize("after_phase", [0, 1, 2])
def test_a_link_down_during_a_plan_keeps_buckets_on_installed_tunnels_then_commit_corrects(after_phase):
    state, sim, tunnels, before, _ = installed_ring(chord=CHORD)
    decided = dict(before[1])
    decided[(1, 4)] = (((1, 2, 5, 4), 0.6), ((1, 6, 5, 4), 0.4))   # replaces 1-2-3-4
    desired = tunnels.resolve(decided, state)
    plan = tunnels.plan(desired)
    assert len(plan.phases) == 3
    for phase in plan.phases[:after_phase]:
        sim.apply(phase)
    down = [(6, 5), (5, 6)]
    for link in down:
        state.remove_link(*link)
        del sim.links[link]
    sim.apply(tunnels.links_down(down))
    # s1 -> s4 keeps only what is in the switches whichever phase went last: the old tunnel
    # before phase 3 (1-2-3-4 is kept by the record until then), never one not yet installed
    buckets = sim.contents(1)[1][4]
    assert [label for label, _, _ in buckets] == [tunnels.labels[(1, 2, 3, 4)]]
    for phase in plan.phases[after_phase:]:
        sim.apply(phase)
    sim.apply(tunnels.commit(desired))      # sent right after the last phase
    assert_record_is_true(sim, tunnels)
    survivors = {pair: tuple(p for p in split if intact(p[0], sim.links)) for pair, split in decided.items()}
    check_frames(sim, (before[0], survivors), (before[0], survivors), final=True)
    assert sim.contents(1)[1][4] == ((tunnels.labels[(1, 2, 5, 4)], 1000, 2),)


def test_a_link_down_mid_plan_leaving_only_a_tunnel_the_plan_drops_is_put_right_at_commit():
    """(1, 4) runs over both ways round; the decision keeps only 1-2-3-4, whose link 2-3 fails
    after the groups were sent: links_down moves s1 onto the other way's tunnel (the one in the
    switches), which the plan's last phase deletes. Commit must leave s1's group as recorded,
    so that no bucket points at the deleted tunnel, whose label may go to another pair next."""
    state, sim, tunnels, before, _ = installed_ring()
    decided = dict(before[1])
    decided[(1, 4)] = (((1, 2, 3, 4), 1.0),)
    desired = tunnels.resolve(decided, state)
    plan = tunnels.plan(desired)
    for phase in plan.phases[:2]:
        sim.apply(phase)
    for link in [(2, 3), (3, 2)]:
        state.remove_link(*link)
        del sim.links[link]
    sim.apply(tunnels.links_down([(2, 3), (3, 2)]))
    (label, _, _), = sim.contents(1)[1][4]
    assert label == tunnels.labels[(1, 6, 5, 4)]  # the only intact one, still in the switches
    for phase in plan.phases[2:]:
        sim.apply(phase)
    sim.apply(tunnels.commit(desired))
    assert_record_is_true(sim, tunnels)
    assert [spec[0] for spec in sim.contents(1)[1][4]] == [tunnels.labels[(1, 2, 3, 4)]]
