"""plan_phases / hops_for_path: routing decisions into ordered, well-formed flow-mods."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st
from ryu.ofproto import ofproto_v1_3 as ofp

from controller import ofmsgs
from controller.planner import hops_for_path, plan_phases, without_switches
from controller.netstate import HostLocation, LinkPorts

A, B, C = "00:00:00:00:00:01", "00:00:00:00:00:02", "00:00:00:00:00:03"


def plan_changes(installed, desired, epoch=0):
    """Every flow-mod of the plan in the order the controller sends them: phase by phase."""
    plan = plan_phases(installed, desired, epoch)
    return plan.prepare + plan.commit + plan.cleanup


def adds(plan):
    return [(dpid, m) for dpid, m in plan if m.command == ofp.OFPFC_ADD]


def deletes(plan):
    return [(dpid, m) for dpid, m in plan if m.command != ofp.OFPFC_ADD]


def out_port(mod):
    return mod.instructions[0].actions[0].port


def test_hops_for_path_follows_link_ports_and_ends_at_the_host():
    links = {(1, 2): LinkPorts(5, 6), (2, 3): LinkPorts(7, 8)}
    host = HostLocation(B, 3, 4)
    assert hops_for_path((1, 2, 3), host, links) == ((1, 5), (2, 7), (3, 4))
    assert hops_for_path((3,), host, links) == ((3, 4),)
    assert hops_for_path((1, 2), host, links) is None  # ends at another switch than the host's
    assert hops_for_path((1, 3), host, links) is None   # no such link (any more)


def test_new_flow_is_added_egress_to_ingress_without_deletes():
    plan = plan_changes({}, {(A, B): ((1, 2), (2, 3), (3, 1))}, epoch=7)
    assert [dpid for dpid, _ in plan] == [3, 2, 1]
    assert [out_port(m) for _, m in plan] == [1, 3, 2]
    for dpid, mod in plan:
        assert mod.command == ofp.OFPFC_ADD
        assert mod.cookie == (ofmsgs.APP_COOKIE << 32) | 7 | (ofmsgs.INGRESS_FLAG if dpid == 1 else 0)
        assert mod.priority == ofmsgs.PRIORITY_PATH
        assert mod.match["eth_src"] == A and mod.match["eth_dst"] == B


def test_no_messages_when_nothing_changed():
    hops = {(A, B): ((1, 2), (2, 1)), (B, A): ((2, 3), (1, 1))}
    assert plan_changes(hops, dict(hops), epoch=3) == []


def test_moved_flow_adds_first_and_deletes_only_where_the_path_left():
    old = {(A, B): ((1, 2), (2, 2), (3, 1))}               # 1-2-3
    new = {(A, B): ((1, 3), (5, 3), (4, 3), (3, 1))}       # 1-5-4-3
    plan = plan_changes(old, new, epoch=2)
    kinds = ["add" if m.command == ofp.OFPFC_ADD else "del" for _, m in plan]
    assert kinds == ["add", "add", "add", "del"]
    assert [(d, out_port(m)) for d, m in adds(plan)] == [(4, 3), (5, 3), (1, 3)]
    assert [d for d, _ in deletes(plan)] == [2]            # s1 is rewritten, s3 unchanged


def test_switch_whose_out_port_changes_is_rewritten_not_deleted():
    plan = plan_changes({(A, B): ((1, 2), (2, 1))}, {(A, B): ((1, 3), (2, 1))})
    assert [(d, out_port(m)) for d, m in plan] == [(1, 3)]


def test_removed_flow_is_deleted_on_every_switch_after_all_adds():
    old = {(A, B): ((1, 2), (2, 1)), (B, A): ((2, 3), (1, 1))}
    new = {(A, B): ((1, 2), (2, 1)), (A, "00:00:00:00:00:03"): ((1, 4),)}
    plan = plan_changes(old, new)
    assert [m.command == ofp.OFPFC_ADD for _, m in plan] == [True, False, False]
    assert sorted(d for d, _ in deletes(plan)) == [1, 2]
    assert all((m.match["eth_src"], m.match["eth_dst"]) == (B, A) for _, m in deletes(plan))


def test_deletes_match_any_port_and_group_and_only_app_cookies():
    plan = plan_changes({(A, B): ((1, 2), (2, 1))}, {})
    assert len(plan) == 2
    for _, mod in plan:
        assert mod.command == ofp.OFPFC_DELETE_STRICT
        assert mod.out_port == ofp.OFPP_ANY and mod.out_group == ofp.OFPG_ANY
        assert mod.cookie_mask == ofmsgs.APP_COOKIE_MASK
        assert mod.cookie & ofmsgs.APP_COOKIE_MASK == ofmsgs.APP_COOKIE << 32
        assert mod.priority == ofmsgs.PRIORITY_PATH
        assert mod.instructions == []


def test_delete_all_app_rules_covers_every_table_with_the_cookie_mask():
    mod = ofmsgs.delete_all_app_rules()
    assert mod.command == ofp.OFPFC_DELETE and mod.table_id == ofp.OFPTT_ALL
    assert (mod.out_port, mod.out_group) == (ofp.OFPP_ANY, ofp.OFPG_ANY)
    assert mod.cookie_mask == ofmsgs.APP_COOKIE_MASK
    assert mod.cookie >> 32 == ofmsgs.APP_COOKIE


def test_epoch_and_ingress_flag_live_in_the_low_cookie_bits():
    assert ofmsgs.cookie(0) >> 32 == ofmsgs.APP_COOKIE
    assert ofmsgs.cookie(2**31 + 5) == (ofmsgs.APP_COOKIE << 32) | 5
    assert ofmsgs.cookie(5, ingress=True) == (ofmsgs.APP_COOKIE << 32) | ofmsgs.INGRESS_FLAG | 5
    request = ofmsgs.ingress_flow_stats_request()
    assert request.cookie_mask == ofmsgs.APP_COOKIE_MASK | ofmsgs.INGRESS_FLAG
    assert request.cookie & request.cookie_mask == ofmsgs.cookie(0, ingress=True)


def test_a_kept_rule_is_rewritten_when_its_role_changes():
    """Source host moved from s1 to s2: s2's rule (same port) becomes the ingress rule and
    must carry the flag; s1 leaves the path."""
    plan = plan_changes({(A, B): ((1, 2), (2, 3), (3, 1))}, {(A, B): ((2, 3), (3, 1))}, epoch=4)
    adds = [(dpid, m) for dpid, m in plan if m.command == ofp.OFPFC_ADD]
    assert [(dpid, m.cookie & ofmsgs.INGRESS_FLAG != 0) for dpid, m in adds] == [(2, True)]
    # and back: s2's rule (same port) is a transit rule again
    plan = plan_changes({(A, B): ((2, 3), (3, 1))}, {(A, B): ((1, 2), (2, 3), (3, 1))}, epoch=5)
    adds = [(dpid, m.cookie & ofmsgs.INGRESS_FLAG != 0) for dpid, m in plan if m.command == ofp.OFPFC_ADD]
    assert sorted(adds) == [(1, True), (2, False)]


paths = st.lists(st.tuples(st.integers(1, 6), st.integers(1, 4)), min_size=1, max_size=5,
                 unique_by=lambda hop: hop[0]).map(tuple)
flow_tables = st.dictionaries(st.sampled_from([(A, B), (B, A), (A, C), (C, B)]), paths,
                              max_size=4)


@settings(max_examples=100, deadline=None)
@given(old=flow_tables, new=flow_tables)
def test_applying_the_plan_yields_exactly_the_desired_rules(old, new):
    """Simulate switch tables: after the plan, every switch holds exactly the desired rules."""
    tables = {(dpid, flow): port for flow, hops in old.items() for dpid, port in hops}
    plan = plan_changes(old, new)
    seen_delete = False
    for dpid, mod in plan:
        flow = (mod.match["eth_src"], mod.match["eth_dst"])
        if mod.command == ofp.OFPFC_ADD:
            assert not seen_delete, "add after a delete"
            tables[(dpid, flow)] = out_port(mod)
        else:
            seen_delete = True
            tables.pop((dpid, flow), None)
    want = {(dpid, flow): port for flow, hops in new.items() for dpid, port in hops}
    assert tables == want
    if old == new:
        assert plan == []
    # the phases: ingress rules (which switch traffic over) only in commit, deletes only last
    phases = plan_phases(old, new)
    assert all(m.command == ofp.OFPFC_ADD for _, m in phases.prepare + phases.commit)
    assert all(m.command == ofp.OFPFC_DELETE_STRICT for _, m in phases.cleanup)
    for phase, ingress in ((phases.prepare, False), (phases.commit, True)):
        for dpid, mod in phase:
            flow = (mod.match["eth_src"], mod.match["eth_dst"])
            assert (dpid == new[flow][0][0]) == ingress
            assert bool(mod.cookie & ofmsgs.INGRESS_FLAG) == ingress


def test_without_switches_keeps_each_flows_other_hops_and_drops_emptied_flows():
    installed = {(A, B): ((1, 2), (5, 2), (4, 1)), (B, A): ((5, 1),), (A, C): ((1, 3), (3, 1))}
    assert without_switches(installed, {5}) == {(A, B): ((1, 2), (4, 1)), (A, C): ((1, 3), (3, 1))}
    # and a plan from there deletes the moved flow's remaining old rule (s4), none on wiped s5
    plan = plan_changes(without_switches(installed, {5}),
                        {(A, B): ((1, 3), (3, 1)), (A, C): ((1, 3), (3, 1))})
    assert [dpid for dpid, m in plan if m.command == ofp.OFPFC_DELETE_STRICT] == [4]


def test_an_unflagged_flow_gets_its_ingress_rule_again_even_with_unchanged_hops():
    """s1 (A's old ingress) was wiped and A moved onto s2: the hops left are the new path's,
    but s2's rule is a transit one without the ingress flag."""
    stripped = {(A, B): ((2, 3), (3, 1))}
    assert plan_changes(stripped, dict(stripped)) == []  # without knowing, nothing is sent
    plan = plan_phases(stripped, dict(stripped), epoch=6, unflagged={(A, B)})
    assert [(dpid, m.cookie & ofmsgs.INGRESS_FLAG != 0) for dpid, m in plan.commit] == [(2, True)]
    assert plan.commit and not plan.prepare and not plan.cleanup
