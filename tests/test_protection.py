"""Local protection against a replayed switch table (tests/tables_sim.py, which takes a
fast-failover group's first bucket whose watched port is live): with any one cable of the
network down and no controller acting, every frame still reaches its host; backup paths
against literal ones and against a brute force over all simple paths; the plan's order (no
frame meets a missing rule or group at any barrier), read-back format and label counts."""
from __future__ import annotations

import itertools
import struct

import networkx as nx
import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import ofmsgs
from controller.readback import missing_base_rules, read_switch
from controller.protection import backup_path, protect
from controller.tunnels import InstalledTunnels, rule_counts
from tests.tables_sim import assert_record_is_true
from tests.test_tunnel_messages import flow_mod, sent
from tests.test_tunnels import (CHORD, around, check_frames, hosts_of, intact, kinds, ring_decision,
                                ring_split, ring_state, run, sim_for)


def ring_links(n: int, chord=None) -> set[tuple[int, int]]:
    edges = [(i, i % n + 1) for i in range(1, n + 1)] + ([chord] if chord else [])
    return {link for a, b in edges for link in ((a, b), (b, a))}


def brute_backup(links, switch, next_switch, egress):
    """Of all simple paths switch -> egress: without the link and next_switch if any exist,
    else without the link; the fewest hops, then the smallest switch sequence."""
    graph = nx.DiGraph(sorted(links))
    no_link = [p for p in nx.all_simple_paths(graph, switch, egress)
               if (switch, next_switch) not in zip(p, p[1:])]
    no_node = [p for p in no_link if next_switch == egress or next_switch not in p]
    if next_switch != egress and no_node:
        candidates = no_node
    else:
        candidates = no_link
    return min((tuple(p) for p in candidates), key=lambda p: (len(p), p), default=None)


def installed(protect_hops: bool = True, chord=CHORD, n: int = 6):
    state = ring_state(n=n, chord=chord)
    sim, tunnels = sim_for(state), InstalledTunnels(protect=protect_hops)
    decided = ring_decision(state, n=n)
    _, plan, after = run(sim, tunnels, state, decided, ({}, {}))
    return state, sim, tunnels, after, plan


# --- backup paths -------------------------------------------------------------------------
def test_backups_avoid_the_link_and_the_next_switch_on_a_ring():
    links = ring_links(4)
    assert backup_path(links, 1, 2, 3) == (1, 4, 3)        # around the far side, without s2
    assert backup_path(links, 2, 3, 3) == (2, 1, 4, 3)     # the next switch is the egress
    assert backup_path(links, 1, 2, 2) == (1, 4, 3, 2)


def test_where_only_the_next_switch_leads_on_the_backup_keeps_it_and_avoids_the_link():
    # s1-s2 twice over (via s3 too) and s2 the only way to s4: the backup of 1->2 towards s4
    # must go through s2 again, avoiding only the cable 1-2
    links = {(1, 2), (2, 1), (1, 3), (3, 1), (3, 2), (2, 3), (2, 4), (4, 2)}
    assert backup_path(links, 1, 2, 4) == (1, 3, 2, 4)


def test_a_bridge_link_has_no_backup():
    links = {(1, 2), (2, 1), (2, 3), (3, 2)}
    assert backup_path(links, 1, 2, 3) is None


@pytest.mark.parametrize("n, chord", [(4, None), (5, (1, 3)), (6, CHORD), (6, (1, 4))])
def test_every_backup_is_the_brute_force_one(n, chord):
    links = ring_links(n, chord)
    for switch, next_switch in links:
        for egress in range(1, n + 1):
            if egress != switch:
                assert backup_path(links, switch, next_switch, egress) == brute_backup(
                    links, switch, next_switch, egress), (switch, next_switch, egress)


def test_protect_on_changing_links_gives_each_set_its_own_brute_force_backups():
    """protect() keeps backup paths per set of links across decisions: after a cable goes and
    comes back (and after more link sets than it keeps), every hop's backup is still the brute
    force one for the links of that call."""
    from types import SimpleNamespace

    full = ring_links(6, CHORD)
    tunnels = {(1, 2, 3): 11, (4, 5, 6, 1): 12, (2, 5): 13, (6, 1, 2): 14}
    cables = [(3, 4), (5, 6), (4, 5), (1, 6), (2, 3)]
    sequence = [full, *(full - {c, c[::-1]} for c in cables), full]
    for links in sequence:
        with_ports = {link: SimpleNamespace(src_port=10 * link[0] + link[1]) for link in links}
        usable = {path: label for path, label in tunnels.items()
                  if all(hop in links for hop in zip(path, path[1:]))}
        got = protect(usable, with_ports, {}, set(tunnels.values()))
        by_label = {label: path for path, label in got.backups.items()}
        for path, label in usable.items():
            for switch, next_switch in zip(path, path[1:]):
                want = brute_backup(links, switch, next_switch, path[-1])
                spec = got.protection.get((switch, label))
                assert (by_label[spec[1]] if spec else None) == want, (sorted(links), path, switch)


def assert_delivered(sim, hosts, avoiding=()):
    """A frame from every host to every other reaches it (every bucket choice), untagged,
    never over a cable in `avoiding`."""
    for (src, (src_dpid, src_port)), (dst, (dst_dpid, dst_port)) in itertools.permutations(
            sorted(hosts.items()), 2):
        outcomes = sim.walk(src_dpid, src_port, dst)
        assert outcomes and all(
            (o.kind, o.dpid, o.port, o.vid) == ("host", dst_dpid, dst_port, None)
            for o in outcomes), (src, dst, outcomes)
        assert all({a, b} not in [set(c) for c in avoiding]
                   for o in outcomes for a, b in zip(o.path, o.path[1:])), (src, dst, outcomes)


# --- any single cable down, no controller ------------------------------------------------
@pytest.mark.parametrize("chord", [None, CHORD])
def test_with_any_one_cable_down_every_frame_still_reaches_its_host(chord):
    state, sim, tunnels, (hosts, decided), _ = installed(chord=chord)
    cables = sorted({tuple(sorted(link)) for link in state.links})
    assert len(cables) == 6 + bool(chord)
    for cable in cables:
        sim.set_down(cable)
        assert_delivered(sim, hosts, avoiding=[cable])
    sim.set_down()


def test_with_a_switch_dead_frames_between_the_others_still_arrive():
    # backups avoid the next switch too: s3 dying (all its cables) is bypassed by the switches
    state, sim, tunnels, (hosts, _), _ = installed(chord=CHORD)
    sim.down = {link for link in state.links if 3 in link}
    others = {mac: where for mac, where in hosts.items() if where[0] != 3}
    assert_delivered(sim, others)


def test_without_protection_a_cable_down_loses_frames_until_the_controller_acts():
    state, sim, tunnels, (hosts, _), _ = installed(protect_hops=False)
    sim.set_down((1, 2))
    assert {o.kind for o in sim.walk(1, 100, "00:00:00:00:02:00")} == {"lost", "host"}


def test_a_frame_on_a_backup_is_not_handed_to_a_second_backup():
    # the backup of s1->s2 towards s3 (chordless 6-ring) is 1-6-5-4-3; with 1-2 and 5-4 both
    # down the frame is lost at s5 rather than sent back round (backups are not protected)
    state, sim, tunnels, _, _ = installed(chord=None)
    sim.down = {(1, 2), (2, 1), (5, 4), (4, 5)}
    outcomes = sim.walk(1, 100, "00:00:00:00:03:00")
    assert {(o.kind, o.path) for o in outcomes} >= {("lost", (1, 6, 5))}
    assert all(o.kind in ("lost", "host") and len(o.path) <= 6 for o in outcomes)


# --- the plan ------------------------------------------------------------------------------
def ff_kinds(phase):
    out = set()
    for _, msg in phase:
        if isinstance(msg, parser.OFPGroupMod) and msg.type == ofp.OFPGT_FF:
            out.add({0: "ff add", 1: "ff modify", 2: "ff delete"}[msg.command])
        elif isinstance(msg, parser.OFPFlowMod) and any(
                isinstance(a, parser.OFPActionGroup) for i in msg.instructions
                for a in getattr(i, "actions", ())) and msg.priority == ofmsgs.PRIORITY_TUNNEL:
            out.add("tunnel via ff add")
        else:
            out |= kinds([(0, msg)])
    return out


def test_a_fresh_install_puts_backups_and_ff_groups_before_anything_points_at_them():
    state, sim, tunnels, _, plan = installed()
    assert [ff_kinds(phase) for phase in plan.phases] == [
        {"tunnel add", "deliver add"}, {"ff add"}, {"tunnel via ff add"}, {"group add"},
        {"classify add"}]
    backup_labels = set(tunnels.record.backups.values())
    assert backup_labels and not backup_labels & set(tunnels.labels.values())
    # a backup's hops are plain: no backup label is protected anywhere
    assert not {label for _, label in tunnels.record.protection} & backup_labels


def test_a_path_change_adds_the_new_tunnel_with_its_backups_and_removes_the_old_last():
    state, sim, tunnels, before, _ = installed()
    decided = dict(before[1])
    decided[(1, 4)] = (((1, 2, 5, 4), 0.6), ((1, 6, 5, 4), 0.4))
    change, plan, _ = run(sim, tunnels, state, decided, before)   # frames checked at each phase
    assert change.rerouted == [(1, 4)]
    order = [ff_kinds(phase) for phase in plan.phases]
    assert order.index({"group modify"}) < order.index({"tunnel delete"})
    assert all("ff delete" not in kinds_ or index > order.index({"group modify"})
               for index, kinds_ in enumerate(order))


def test_a_host_leaving_removes_its_pairs_ff_groups_after_every_rule_using_them():
    state, sim, tunnels, before, _ = installed()
    del state.hosts["00:00:00:00:06:00"]
    run(sim, tunnels, state, ring_decision(state), before)      # the simulator refuses otherwise
    assert not any(6 in (path[0], path[-1]) for path in tunnels.labels)


def test_a_cable_down_is_bypassed_then_links_down_and_the_next_decision_clean_up():
    state, sim, tunnels, before, _ = installed()
    down = [(2, 3), (3, 2)]
    sim.set_down((2, 3))
    assert_delivered(sim, before[0])     # the switches alone bypass it
    for link in down:
        state.remove_link(*link)
    sim.apply(tunnels.links_down(down))
    assert_record_is_true(sim, tunnels)
    assert_delivered(sim, before[0])
    decided = ring_decision(state)
    survivors = {pair: tuple(p for p in split if intact(p[0], state.links))
                 for pair, split in before[1].items()}
    run(sim, tunnels, state, decided, (before[0], survivors))
    # re-optimised: no tunnel or backup over the dead cable any more
    assert not [p for p in [*tunnels.labels, *tunnels.record.backups] if not intact(p, state.links)]


@pytest.mark.parametrize("protect_hops", [True, False])
def test_a_link_failing_while_a_decision_runs_leaves_a_bypassed_pair_installed(protect_hops):
    state = ring_state(chord=None)
    sim, tunnels = sim_for(state), InstalledTunnels(protect=protect_hops)
    decided = {pair: (((pair[0], *around(*pair, 1)[1:]), 1.0),) for pair in state.switch_pairs()}
    run(sim, tunnels, state, decided, ({}, {}))
    for link in [(2, 3), (3, 2)]:          # fails after the decision was taken, before resolve
        state.remove_link(*link)
    sim.set_down((2, 3))
    desired = tunnels.resolve(decided, state)
    for phase in tunnels.plan(desired).phases:
        sim.apply(phase)
    sim.apply(tunnels.commit(desired))
    assert_record_is_true(sim, tunnels)
    outcomes = sim.walk(1, 100, "00:00:00:00:03:00")
    if protect_hops:   # kept as installed: the switches' backup 2-1-6-5-4-3 carries it
        assert desired.splits[(1, 3)] == (((1, 2, 3), 1.0),)
        assert [(o.kind, o.path) for o in outcomes] == [("host", (1, 2, 1, 6, 5, 4, 3))]
    else:              # without protection the pair loses its group until the next decision
        assert (1, 3) not in desired.splits
        assert [o.kind for o in outcomes] == ["controller"]


def test_a_link_down_mid_plan_never_points_a_bucket_at_an_ff_group_the_plan_deletes():
    state, sim, tunnels, before, _ = installed(chord=None)
    decided = dict(before[1])
    decided[(1, 4)] = (((1, 2, 3, 4), 1.0),)   # drops 1-6-5-4
    desired = tunnels.resolve(decided, state)
    plan = tunnels.plan(desired)
    group_phase = [ff_kinds(p) for p in plan.phases].index({"group modify"})
    for phase in plan.phases[:group_phase + 1]:
        sim.apply(phase)
    for link in [(2, 3), (3, 2)]:
        state.remove_link(*link)
    sim.set_down((2, 3))
    sim.apply(tunnels.links_down([(2, 3), (3, 2)]))
    for phase in plan.phases[group_phase + 1:]:
        sim.apply(phase)                         # strict: no group deleted while pointed at
    sim.apply(tunnels.commit(desired))
    assert_record_is_true(sim, tunnels)


def test_a_wiped_switch_gets_its_ff_groups_back_before_its_rules_use_them():
    state, sim, tunnels, before, _ = installed()
    sim.wipe(2)                                  # (its OVS restarted: nothing of qroute's left)
    tunnels.switch_reconnected(2)
    entries = read_switch(2, *sim.read_back(2))
    tunnels.adopt(entries, now=0.0)
    sim.apply(missing_base_rules(entries))       # as the app does after a read-back
    assert not any(dpid == 2 for dpid, _ in tunnels.record.protection)
    desired = tunnels.resolve(before[1], state)
    for phase in tunnels.plan(desired).phases:
        sim.apply(phase)                         # strict: a rule naming a missing group fails
    sim.apply(tunnels.commit(desired))
    assert_record_is_true(sim, tunnels)
    check_frames(sim, before, before, final=True)


# --- messages, record, counts ----------------------------------------------------------------
def test_ff_group_bytes_watch_the_hop_port_then_the_backup_port():
    _, msg = sent(ofmsgs.ff_group_add(7, (3, 40, 5, False)))
    raw = bytes(msg.buf)
    command, group_type, group_id = struct.unpack_from("!HBxI", raw, 8)
    assert (command, group_type, group_id) == (ofp.OFPGC_ADD, ofp.OFPGT_FF, 0xFFFF0007)
    first = parser.OFPBucket.parser(raw, 16)
    second = parser.OFPBucket.parser(raw, 16 + first.len)
    assert (first.watch_port, [(type(a).__name__, a.port) for a in first.actions]) == (
        3, [("OFPActionOutput", 3)])
    assert second.watch_port == 5
    assert [(type(a).__name__, getattr(a, "value", None) or a.port) for a in second.actions] == [
        ("OFPActionSetField", 0x1000 | 40), ("OFPActionOutput", 5)]
    transit = flow_mod(ofmsgs.tunnel_transit_to_group(7, epoch=2))
    assert [(type(a).__name__, a.group_id) for i in transit.instructions for a in i.actions] == [
        ("OFPActionGroup", 0xFFFF0007)]
    assert ofmsgs.ff_group_label(0xFFFF0007) == 7 and ofmsgs.ff_group_label(7) is None
    assert ofmsgs.MAX_GROUP_ID < ofmsgs.ff_group_id(1) <= ofmsgs.ff_group_id(4094) <= ofp.OFPG_MAX


def test_rule_counts_count_ff_groups_and_backup_rules_as_the_switches_hold_them():
    state, sim, tunnels, _, _ = installed()
    for dpid, count in rule_counts(tunnels).items():
        rules, groups = sim.contents(dpid)
        ff = sim.fast_failover(dpid)
        assert count.flow_rules == len(rules) - 3
        assert count.groups == len(groups) + len(ff)
        assert count.buckets == sum(len(b) for b in groups.values()) + 2 * len(ff)


def test_hops_left_without_a_free_label_stay_unprotected_and_are_reported():
    links = {link: type("Ports", (), {"src_port": link[1]})() for link in ring_links(4)}
    labels = {(1, 2, 3): 1, (1, 4, 3): 2}
    everything = protect(labels, links, {}, held=set(labels.values()))
    assert everything.unprotected == [] and len(everything.backups) == 4
    # all but one VLAN id held elsewhere: one backup gets a label, the other hops go without
    scarce = protect(labels, links, {}, held=set(range(4, 4095)) | set(labels.values()))
    assert len(scarce.backups) == 1 and len(scarce.protection) == 1
    assert len(scarce.unprotected) == len(everything.protection) - 1


def test_resolve_with_protection_keeps_installed_backup_labels_and_frees_none_early():
    state, sim, tunnels, before, _ = installed()
    again = tunnels.resolve(before[1], state)
    assert again.backups == tunnels.record.backups and again.protection == tunnels.record.protection
    split = dict(before[1])
    split[(1, 3)] = ring_split(1, 3, short_share=0.5)
    reweighted = tunnels.resolve(split, state)
    assert reweighted.backups == tunnels.record.backups
    assert hosts_of(state)


def test_geant_fits_its_tunnels_and_every_backup_into_the_vlan_ids():
    from controller import rule_scale
    from tests.conftest import require_data_or_skip

    require_data_or_skip("geant", "GEANT.json")
    tunnels = rule_scale.switch_tunnels("geant")
    state = rule_scale.network_state("geant", 1)
    decided = {pair: tuple((path, 1.0 / len(paths)) for path in paths)
               for pair, paths in tunnels.items() if pair in set(state.switch_pairs())}
    desired = InstalledTunnels(protect=True).resolve(decided, state)
    hops = sum(len(path) - 1 for path in desired.labels)
    assert desired.unprotected == () and len(desired.protection) <= hops
    assert len(desired.labels) + len(desired.backups) <= ofmsgs.MAX_LABEL
    assert set(desired.labels.values()).isdisjoint(desired.backups.values())


def test_a_backup_that_turns_back_leaves_by_the_ingress_port():
    # 1-2-3 on a chordless 6-ring: at s2 the backup of 2->3 is 2-1-6-5-4-3, back the way the
    # frames came; a switch drops a frame output to the port it came in by unless told IN_PORT
    state, sim, tunnels, _, _ = installed(chord=None)
    label = tunnels.labels[(1, 2, 3)]
    out_port, backup_label, backup_port, turns_back = tunnels.record.protection[(2, label)]
    assert (out_port, backup_port, turns_back) == (3, 1, True)
    assert tunnels.record.backups[(2, 1, 6, 5, 4, 3)] == backup_label
    assert tunnels.record.protection[(1, label)][3] is False     # the ingress never turns back
    sim.set_down((2, 3))
    walked = [(o.kind, o.path) for o in sim.walk(1, 100, "00:00:00:00:03:00")
              if o.path[:2] == (1, 2)]
    assert walked == [("host", (1, 2, 1, 6, 5, 4, 3))]
    sim.apply([(2, ofmsgs.ff_group_modify(label, (out_port, backup_label, backup_port, False)))])
    assert [o.kind for o in sim.walk(1, 100, "00:00:00:00:03:00") if o.path[:2] == (1, 2)] == ["drop"]
