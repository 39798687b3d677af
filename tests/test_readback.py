"""Read-back of a (re)connecting switch against replayed switch tables: a plan is installed into
simulated switches (tests/tables_sim.py, every message serialised and parsed back), their
tables are answered as flow-stats and group-desc replies, and what the controller rebuilds
from them, and the plans it makes next, are checked against the tables and frame walks."""
from __future__ import annotations

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import group_ids, of_errors, ofmsgs
from controller.readback import (ReadBack, StartupHold, missing_base_rules, read_switch,
                                 stale_deletions)
from controller.tunnels import InstalledTunnels
from tests.tables_sim import assert_record_is_true
from tests.test_tunnels import (CHORD, check_frames, hosts_of, host_mac, installed_ring, kinds,
                                ring_decision, run, sim_for)

APP = 0x71726F75 << 32


def read_all(sim, tunnels: InstalledTunnels) -> None:
    for dpid in sorted(sim.switches):
        tunnels.adopt(read_switch(dpid, *sim.read_back(dpid)), now=0.0)


def test_every_kind_of_rule_and_group_reads_back_as_installed():
    state, sim, tunnels, _, _ = installed_ring(chord=CHORD, hosts_per_switch=2)
    cw, ccw = (1, 2, 3), (1, 6, 5, 4, 3)
    entries = read_switch(1, *sim.read_back(1))
    # literal spot checks of each kind on s1 (ring ports: towards switch j is port j)
    assert entries.groups[3] == ((tunnels.labels[cw], 700, 2), (tunnels.labels[ccw], 300, 6))
    assert entries.classify[host_mac(3, 1)] == ("group", 3)
    assert entries.classify[host_mac(1, 1)] == ("port", 101)
    assert entries.delivery == {host_mac(1, 0): 100, host_mac(1, 1): 101}
    assert read_switch(2, *sim.read_back(2)).tunnel_rules[tunnels.labels[cw]] == 3
    assert read_switch(3, *sim.read_back(3)).tunnel_rules[tunnels.labels[cw]] is None
    assert {key for key, _ in entries.base} == ofmsgs.base_rule_keys() and entries.epoch == 1
    assert missing_base_rules(entries) == []   # in place: not added again
    # every switch: exactly its part of the record (which assert_record_is_true held to the tables)
    record = tunnels.record
    for dpid in sorted(sim.switches):
        got = read_switch(dpid, *sim.read_back(dpid))
        assert got.tunnel_rules == {label: port for (d, label), port in record.tunnel_rules.items()
                                    if d == dpid}
        assert got.groups == {egress: b for (ingress, egress), b in record.groups.items() if ingress == dpid}
        assert got.classify == {mac: to for (d, mac), to in record.classify.items() if d == dpid}
        assert got.delivery == {mac: port for (d, mac), port in record.delivery.items() if d == dpid}
        assert got.stale_flows == [] and got.stale_groups == []


def test_a_restarted_controller_knowing_the_saved_labels_rebuilds_the_record_and_sends_nothing():
    state, sim, old, before, _ = installed_ring(chord=CHORD)
    restarted = InstalledTunnels()
    restarted.remember(old.labels, old.splits)
    read_all(sim, restarted)
    assert restarted.record == old.record
    assert restarted.epoch == 1 and restarted.held_labels() == set()
    desired = restarted.resolve(before[1], state)
    assert not restarted.diff(desired)
    assert restarted.plan(desired).phases == []


def test_the_read_back_order_of_switches_does_not_matter():
    state, sim, old, _, _ = installed_ring()
    restarted = InstalledTunnels()
    restarted.remember(old.labels, old.splits)
    for dpid in sorted(sim.switches, reverse=True):
        restarted.adopt(read_switch(dpid, *sim.read_back(dpid)), now=0.0)
    assert restarted.record == old.record


def test_without_saved_labels_read_back_labels_stay_held_and_the_switch_is_taken_over_without_loss():
    """No state file: the read-back tunnels' paths are unknown, so their labels are held; the
    first decision builds its tunnels on other labels, modifies (never re-adds) the groups
    that exist, and removes the old tunnels last; every frame is delivered at every phase."""
    state, sim, old, before, _ = installed_ring()
    restarted = InstalledTunnels()
    read_all(sim, restarted)
    assert restarted.record.splits == {} and restarted.record.labels == {}
    held = set(old.labels.values())
    assert restarted.held_labels() == held
    change, plan, _ = run(sim, restarted, state, before[1], before)  # strict replay, frames checked
    assert not set(restarted.labels.values()) & held
    assert [kinds(phase) for phase in plan.phases] == [{"tunnel add"}, {"group modify"}, {"tunnel delete"}]
    assert_record_is_true(sim, restarted)
    assert restarted.held_labels() == set()
    assert restarted.epoch == 2   # past the epoch of the rules read back


def test_hosts_are_known_again_from_the_delivery_rules():
    state, sim, _, _, _ = installed_ring()
    found = {}
    for dpid in sim.switches:
        for mac, port in read_switch(dpid, *sim.read_back(dpid)).hosts().items():
            found[mac] = (dpid, port)
    assert found == hosts_of(state)


def _stale_sim():
    state, sim, tunnels, before, _ = installed_ring()
    old_arp = parser.OFPFlowMod(datapath=None, cookie=APP | 7, cookie_mask=0, table_id=0,
                                command=ofp.OFPFC_ADD, idle_timeout=0, hard_timeout=0, priority=30000,
                                buffer_id=ofp.OFP_NO_BUFFER, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                                flags=0, match=parser.OFPMatch(eth_type=0x0806),
                                instructions=[parser.OFPInstructionActions(
                                    ofp.OFPIT_APPLY_ACTIONS, [ofmsgs.to_controller()])])
    foreign = parser.OFPFlowMod(datapath=None, cookie=0x1234, cookie_mask=0, table_id=0,
                                command=ofp.OFPFC_ADD, idle_timeout=0, hard_timeout=0, priority=5,
                                buffer_id=ofp.OFP_NO_BUFFER, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                                flags=0, match=parser.OFPMatch(eth_type=0x86DD), instructions=[])
    other_group = parser.OFPGroupMod(datapath=None, command=ofp.OFPGC_ADD, type_=ofp.OFPGT_ALL,
                                     group_id=77, buckets=[parser.OFPBucket(
                                         actions=[parser.OFPActionOutput(2)])])
    sim.apply([(1, old_arp), (1, foreign), (1, other_group)])
    return state, sim, tunnels, before


def test_qroute_entries_of_no_known_kind_are_deleted_and_foreign_rules_never_touched():
    state, sim, tunnels, before = _stale_sim()
    entries = read_switch(1, *sim.read_back(1))
    assert entries.stale_flows == [(0, 30000, {"eth_type": 0x0806})]
    assert entries.stale_groups == [77]
    assert entries.epoch == 7
    sim.apply(stale_deletions(entries))
    rules, groups = sim.contents(1)
    assert 77 not in groups
    assert ("base", 0, 30000, (("eth_type", 0x0806),)) not in rules
    assert ("base", 0, 5, (("eth_type", 0x86DD),)) in rules          # not qroute's: left alone
    assert set(groups) == {2, 3, 4, 5, 6}                             # the select groups stay
    # the cookie filter is the switch's; a reply that ignored it is not trusted either
    unfiltered = read_switch(1, sim.flow_stats(1), sim.group_descs(1))
    assert all(match != {"eth_type": 0x86DD} for _, _, match in unfiltered.stale_flows)


def test_the_next_plan_after_a_read_back_replaces_only_what_differs():
    """s2 lost one tunnel rule and holds a transit rule pointing the wrong way: the plan
    after the read-back sends those two rules and nothing else."""
    state, sim, tunnels, before, _ = installed_ring()
    cw = (1, 2, 3)
    label = tunnels.labels[cw]
    other = tunnels.labels[(6, 1, 2)]
    sim.apply([(2, ofmsgs.delete_tunnel_rule(label)),
               (2, ofmsgs.tunnel_transit_rule(other, 1, epoch=1))])
    restarted = InstalledTunnels()
    restarted.remember(tunnels.labels, tunnels.splits)
    read_all(sim, restarted)
    desired = restarted.resolve(before[1], state)
    plan = restarted.plan(desired)
    sent = [[(dpid, m.match["vlan_vid"] & 0xFFF, m.command) for dpid, m in phase] for phase in plan.phases]
    assert sent == [[(2, label, ofp.OFPFC_ADD), (2, other, ofp.OFPFC_ADD)]]
    sim.apply(plan.phases[0])
    sim.apply(restarted.commit(desired))
    assert_record_is_true(sim, restarted)
    check_frames(sim, before, before, final=True)


def test_read_back_replies_are_collected_until_the_last_part_of_the_right_request():
    state, sim, tunnels, _, _ = installed_ring()
    flows, groups = sim.read_back(1)
    reading = ReadBack()
    reading.connected(1, now=5.0)
    reading.requested(1, flow_xid=10, group_xid=11, now=5.0)
    assert reading.flow_reply(1, 9, flows, more=False, now=5.1) is None     # an older request's
    assert reading.flow_reply(1, 10, flows[:3], more=True, now=5.1) is None
    assert reading.group_reply(1, 11, groups, more=False, now=5.2) is None  # flows not complete
    entries = reading.flow_reply(1, 10, flows[3:], more=False, now=5.3)
    assert entries == read_switch(1, flows, groups)
    assert reading.view(6.0)["1"]["state"] == "read back"
    assert reading.view(6.0)["1"]["read_back_in_s"] == 0.3


def test_a_read_back_never_answered_is_given_up_after_the_timeout():
    reading = ReadBack()
    reading.connected(4, now=0.0)
    reading.requested(4, 1, 2, now=0.0)
    assert reading.give_up(now=9.9, timeout_s=10.0) == []
    assert reading.give_up(now=10.0, timeout_s=10.0) == [4]
    assert reading.view(10.0)["4"]["state"] == "failed"


def test_the_start_up_hold_waits_for_the_saved_switches_and_links_or_the_timeout():
    hold = StartupHold(started=100.0, timeout_s=10.0, switches={1, 2}, links={(1, 2), (2, 1)})
    assert "switch 2" in hold.reason(101.0, read_back={1}, reading=(), known_links=set())
    assert "link 1-2, 2-1" in hold.reason(101.0, read_back={1, 2}, reading=(), known_links=set())
    assert hold.reason(101.0, read_back={1, 2}, reading=(), known_links={(1, 2), (2, 1)}) == ""
    assert hold.reason(110.0, read_back=set(), reading=(), known_links=set()) == ""   # timed out
    assert hold.reason(110.0, read_back=set(), reading={3}, known_links=set()) == "reading back switch 3"
    # nothing saved: the first switch read back says what else to wait for
    unsaved = StartupHold(0.0, 10.0)
    assert unsaved.reason(0.0, set(), (), set()) == "waiting for a switch to connect and be read back"
    assert unsaved.reason(0.0, {5}, (), set()) == ""


def test_a_switch_reconnecting_outside_a_plan_is_not_read_again_at_commit():
    state, sim, tunnels, before, _ = installed_ring()
    tunnels.switch_reconnected(4)
    tunnels.adopt(read_switch(4, *sim.read_back(4)), now=0.0)
    desired = tunnels.resolve(ring_decision(state), state)
    assert not tunnels.diff(desired)
    tunnels.plan(desired)
    tunnels.commit(desired)
    assert tunnels.reread == []


def test_a_classification_rule_sending_to_a_group_of_no_known_kind_is_not_counted_as_installed():
    state, sim, tunnels, before, _ = installed_ring()
    odd = parser.OFPGroupMod(datapath=None, command=ofp.OFPGC_MODIFY, type_=ofp.OFPGT_SELECT, group_id=3,
                             buckets=[parser.OFPBucket(weight=1, watch_port=ofp.OFPP_ANY,
                                                       watch_group=ofp.OFPG_ANY,
                                                       actions=[parser.OFPActionOutput(2)])])
    sim.apply([(1, odd)])   # s1's group to s3 no longer tags: of no kind qroute installs
    entries = read_switch(1, *sim.read_back(1))
    assert entries.stale_groups == [3] and 3 not in entries.groups
    assert host_mac(3) not in entries.classify
    restarted = InstalledTunnels()
    restarted.remember(tunnels.labels, tunnels.splits)
    read_all(sim, restarted)
    sim.apply(stale_deletions(read_switch(1, *sim.read_back(1))))
    assert_record_is_true(sim, restarted)         # what it records is what s1 holds
    desired = restarted.resolve(before[1], state)
    plan = restarted.plan(desired)
    assert [kinds(phase) for phase in plan.phases] == [{"group add"}, {"classify add"}]
    for phase in plan.phases:
        sim.apply(phase)                          # strict: the group is added, not added twice
    sim.apply(restarted.commit(desired))
    assert_record_is_true(sim, restarted)
    check_frames(sim, before, before, final=True)


def test_base_rules_missing_or_doing_something_else_are_added_and_the_rest_left_alone():
    state, sim, tunnels, _, _ = installed_ring()
    miss, arp_rule, table1_miss = ofmsgs.base_rules()
    sim.apply([(1, ofmsgs.delete_flow_strict(0, ofmsgs.PRIORITY_ARP, dict(arp_rule.match.items()))),
               (1, ofmsgs._flow_mod(parser.OFPMatch(), [parser.OFPActionOutput(7)],
                                    priority=ofmsgs.PRIORITY_MISS))])   # a miss rule gone wrong
    added = missing_base_rules(read_switch(1, *sim.read_back(1)))
    assert [(m.table_id, m.priority) for _, m in added] == [(0, ofmsgs.PRIORITY_MISS),
                                                            (0, ofmsgs.PRIORITY_ARP)]
    sim.apply(added)
    assert missing_base_rules(read_switch(1, *sim.read_back(1))) == []


# --- local protection: fast-failover groups and backup tunnels read back --------------------
def protected_ring():
    from tests.test_protection import installed

    return installed(protect_hops=True)


def test_fast_failover_groups_and_the_rules_through_them_read_back_as_installed():
    state, sim, tunnels, _, _ = protected_ring()
    record = tunnels.record
    assert record.protection and record.backups
    for dpid in sorted(sim.switches):
        got = read_switch(dpid, *sim.read_back(dpid))
        assert got.stale_flows == [] and got.stale_groups == [], dpid
        assert got.protection == {label: spec for (d, label), spec in record.protection.items()
                                  if d == dpid}, dpid
        # a protected hop's port is its FF group's first bucket's, as in the record
        assert got.tunnel_rules == {label: port for (d, label), port in record.tunnel_rules.items()
                                    if d == dpid}, dpid
        assert got.groups == {egress: b for (ingress, egress), b in record.groups.items() if ingress == dpid}


def test_a_restarted_controller_with_the_saved_backups_rebuilds_protection_and_sends_nothing():
    state, sim, old, before, _ = protected_ring()
    restarted = InstalledTunnels(protect=True)
    restarted.remember(old.labels, old.splits, old.record.backups)
    read_all(sim, restarted)
    assert restarted.record.backups == old.record.backups
    assert restarted.record.protection == old.record.protection
    assert restarted.held_labels() == set()
    desired = restarted.resolve(before[1], state)
    assert restarted.plan(desired).phases == []


def test_without_a_state_file_backups_are_followed_through_the_rules_and_kept():
    state, sim, old, before, _ = protected_ring()
    restarted = InstalledTunnels(protect=True)
    read_all(sim, restarted)
    assert restarted.record.backups == {}
    restarted.trace(state.links)
    assert restarted.record.backups == old.record.backups
    assert restarted.record.labels == old.record.labels and restarted.held_labels() == set()
    desired = restarted.resolve(before[1], state)
    assert restarted.plan(desired).phases == []


def test_a_protected_rule_whose_fast_failover_group_is_gone_is_stale_with_its_select_group():
    state, sim, tunnels, _, _ = protected_ring()
    flows, groups = sim.read_back(1)
    ff_ids = {g.group_id for g in groups if g.type == ofp.OFPGT_FF}
    entries = read_switch(1, flows, [g for g in groups if g.group_id not in ff_ids])
    assert entries.protection == {}
    # s1's select groups all send through FF groups: none can be counted as installed
    assert entries.groups == {} and sorted(entries.stale_groups) == sorted(
        egress for (ingress, egress) in tunnels.record.groups if ingress == 1)
    protected_transit = {label for (d, label) in tunnels.record.protection if d == 1
                         and tunnels.record.tunnel_rules.get((1, label)) is not None}
    assert {match["vlan_vid"] & 0xFFF for _, _, match in entries.stale_flows
            if "eth_dst" not in match} == protected_transit
    # their deletion: rules first, then the groups, each by a kind the switch accepts
    assert all(isinstance(m, (parser.OFPFlowMod, parser.OFPGroupMod)) for _, m in stale_deletions(entries))


# --- switches with Open vSwitch's default (MAC-derived, 48-bit) dpids -----------------------
OVS_DPIDS = (0x0000_0A1B_2C3D_4E01, 0x0000_0A1B_2C3D_4E02, 0x0000_F2E4_0000_0003)


def ovs_triangle():
    """Three switches with MAC-derived dpids in a triangle (ports 1 and 2 towards the others),
    a host on port 100 of each; every pair split over its direct link and the way round."""
    from controller.netstate import NetworkState

    def port(here: int, there: int) -> int:  # the next switch round is port 1, the other port 2
        return 1 if (there - here) % 3 == 1 else 2

    state = NetworkState()
    for n, a in enumerate(OVS_DPIDS):
        for m, b in enumerate(OVS_DPIDS):
            if a != b:
                state.add_link(a, b, port(n, m), port(m, n))
        state.add_port(a, 100)
        state.learn_host(host_mac(n + 1, 0), a, 100)
    third = {(a, b): next(c for c in OVS_DPIDS if c not in (a, b)) for a in OVS_DPIDS for b in OVS_DPIDS}
    decided = {pair: (((pair[0], pair[1]), 0.6), ((pair[0], third[pair], pair[1]), 0.4))
               for pair in state.switch_pairs()}
    return state, decided


def test_groups_named_by_folded_ids_read_back_once_their_egress_is_known():
    """A restarted controller meets the switches one by one: a select group towards a switch
    that has not connected yet cannot be named; it is left as it is (neither adopted nor
    deleted, nor the classification rules sending to it), and once the egress has connected
    the switch's next read-back adopts it, giving back the record installed before."""
    state, decided = ovs_triangle()
    sim, old = sim_for(state), InstalledTunnels()
    for dpid in OVS_DPIDS:
        old.names.add(dpid)
    run(sim, old, state, decided, ({}, {}))
    first = OVS_DPIDS[0]
    assert {group_ids.select_group_id(b) for b in OVS_DPIDS[1:]} <= set(sim.switch(first).groups)

    restarted = InstalledTunnels()
    restarted.remember(old.labels, old.splits)
    restarted.names.add(first)                             # only the first switch is back
    early = read_switch(first, *sim.read_back(first), restarted.names.egress)
    assert sorted(early.unresolved_groups) == sorted(group_ids.select_group_id(b) for b in OVS_DPIDS[1:])
    assert early.groups == {} and early.stale_groups == [] and early.stale_flows == []
    assert early.classify == {host_mac(1, 0): ("port", 100)}
    assert stale_deletions(early) == []                    # traffic on them keeps flowing
    restarted.adopt(early, now=0.0)
    assert restarted.record.splits == {}
    # their labels go to no new tunnel while the groups push them (a direct tunnel's label has
    # no rule on this switch to hold it)
    pushed = {spec[0] for buckets in early.unresolved_groups.values() for spec in buckets}
    assert pushed and pushed <= restarted.held_labels()

    for dpid in OVS_DPIDS[1:]:
        restarted.names.add(dpid)
    for dpid in OVS_DPIDS:                                 # the first one read again
        entries = read_switch(dpid, *sim.read_back(dpid), restarted.names.egress)
        assert entries.unresolved_groups == {}
        restarted.adopt(entries, now=0.0)
    assert restarted.record == old.record
    assert restarted.plan(restarted.resolve(decided, state)).phases == []


def test_a_fresh_controller_routes_ovs_default_dpids_and_its_errors_name_the_pair():
    state, decided = ovs_triangle()
    sim, tunnels = sim_for(state), InstalledTunnels()
    for dpid in OVS_DPIDS:
        tunnels.names.add(dpid)
    run(sim, tunnels, state, decided, ({}, {}))            # every frame delivered at every phase
    a, b = OVS_DPIDS[0], OVS_DPIDS[2]
    assert tunnels.group_pair(a, group_ids.select_group_id(b)) == (a, b)
    add = ofmsgs.group_add(b, tunnels.record.groups[(a, b)])
    sent = of_errors.describe_sent(a, add, {}, tunnels.splits, 1, tunnels.names.egress)
    assert sent.key == (a, b) and f"pair {a}-{b}" in sent.text
