"""InstalledRoutes: strip, resolve, diff, plan and commit on hand-built routes."""
from __future__ import annotations

from ryu.ofproto import ofproto_v1_3 as ofp

from controller import ofmsgs
from controller.netstate import NetworkState
from controller.routes import Change, Desired, InstalledRoutes

A, B, C = "00:00:00:00:00:0a", "00:00:00:00:00:0b", "00:00:00:00:00:0c"


def line():
    """s1 - s2 - s3 and a detour s1 - s4 - s3; port n of a switch leads to switch n, hosts on
    port 9: A on s1, B on s3."""
    state = NetworkState()
    for a, b in ((1, 2), (2, 3), (1, 4), (4, 3)):
        state.add_link(a, b, b, a)
        state.add_link(b, a, a, b)
    state.learn_host(A, 1, 9)
    state.learn_host(B, 3, 9)
    return state


def installed(hops, paths, unflagged=()):
    routes = InstalledRoutes()
    routes.hops, routes.paths, routes.unflagged = dict(hops), dict(paths), set(unflagged)
    return routes


AB_HOPS, AB_PATH = ((1, 2), (2, 3), (3, 9)), (1, 2, 3)
BA_HOPS, BA_PATH = ((3, 2), (2, 1), (1, 9)), (3, 2, 1)


def test_strip_forgets_the_switches_rules_and_marks_flows_that_lost_their_ingress_rule():
    routes = installed({(A, B): AB_HOPS, (B, A): BA_HOPS, (A, C): ((2, 5),)},
                       {(A, B): AB_PATH, (B, A): BA_PATH, (A, C): (2,)})
    assert routes.strip({9}) is False and len(routes.hops) == 3   # nothing there
    assert routes.strip({1}) is True
    assert routes.hops == {(A, B): ((2, 3), (3, 9)), (B, A): ((3, 2), (2, 1)), (A, C): ((2, 5),)}
    assert routes.unflagged == {(A, B)}           # B->A's ingress rule is on s3, untouched
    assert routes.paths[(A, B)] == AB_PATH        # the path stays known, for the next plan
    assert routes.strip({2}) is True              # A->C had rules on s2 only: gone entirely
    assert set(routes.hops) == set(routes.paths) == {(A, B), (B, A)}
    assert routes.hops[(A, B)] == ((3, 9),) and routes.unflagged == {(A, B)}


def test_switch_wiped_remembers_the_switch_even_when_nothing_was_installed_there():
    routes = installed({(A, B): AB_HOPS}, {(A, B): AB_PATH})
    assert routes.switch_wiped(4) is False and routes.wiped == {4}
    assert routes.switch_wiped(2) is True and routes.wiped == {2, 4}
    assert routes.hops == {(A, B): ((1, 2), (3, 9))}


def test_resolve_builds_rules_on_the_live_links():
    desired = InstalledRoutes().resolve({(A, B): (1, 4, 3), (B, A): (3, 2, 1)}, line())
    assert desired.hops == {(A, B): ((1, 4), (4, 3), (3, 9)), (B, A): ((3, 2), (2, 1), (1, 9))}
    assert desired.paths == {(A, B): (1, 4, 3), (B, A): (3, 2, 1)}


def test_resolve_keeps_an_intact_installed_path_when_the_decided_one_broke():
    state = line()
    state.remove_link(4, 3)
    routes = installed({(A, B): AB_HOPS}, {(A, B): AB_PATH})
    desired = routes.resolve({(A, B): (1, 4, 3)}, state)
    assert desired.paths == {(A, B): AB_PATH} and desired.hops == {(A, B): AB_HOPS}
    state.remove_link(2, 3)  # the installed one broke too: the flow gets no rules
    assert routes.resolve({(A, B): (1, 4, 3)}, state) == Desired()


def test_resolve_gives_no_rules_to_a_flow_whose_host_moved_or_is_unknown():
    state = line()
    routes = installed({(A, B): AB_HOPS}, {(A, B): AB_PATH})
    state.learn_host(B, 2, 9)  # B now on s2: neither the decided nor the installed path ends there
    assert routes.resolve({(A, B): (1, 2, 3), (A, C): (1, 2)}, state) == Desired()


def test_diff_sorts_flows_into_new_moved_rewritten_and_dropped():
    routes = installed({(A, B): AB_HOPS, (B, A): BA_HOPS, (A, C): ((1, 2), (2, 7)),
                        (C, A): ((2, 1), (1, 9))},
                       {(A, B): AB_PATH, (B, A): BA_PATH, (A, C): (1, 2), (C, A): (2, 1)})
    desired = Desired(
        hops={(A, B): ((1, 4), (4, 3), (3, 9)),       # another path
              (B, A): BA_HOPS,                         # unchanged
              (A, C): ((1, 2), (2, 8)),                # same path, C on another port of s2
              (C, B): ((2, 3), (3, 9))},               # not installed before
        paths={(A, B): (1, 4, 3), (B, A): BA_PATH, (A, C): (1, 2), (C, B): (2, 3)})
    assert routes.diff(desired) == Change(new=[(C, B)], moved=[(A, B)], rewritten=[(A, C)],
                                          dropped=[(C, A)])


def test_diff_rewrites_an_unflagged_flow_whose_hops_look_unchanged():
    routes = installed({(A, B): ((2, 3), (3, 9))}, {(A, B): (2, 3)}, unflagged={(A, B)})
    desired = Desired({(A, B): ((2, 3), (3, 9))}, {(A, B): (2, 3)})
    assert routes.diff(desired) == Change(rewritten=[(A, B)])
    assert not installed(desired.hops, desired.paths).diff(desired)  # flagged: nothing to do


def test_plan_bumps_the_epoch_and_starts_a_new_wiped_record():
    routes = installed({}, {})
    routes.switch_wiped(5)
    plan = routes.plan(Desired({(A, B): AB_HOPS}, {(A, B): AB_PATH}))
    assert routes.epoch == 1 and routes.wiped == set()
    assert [dpid for dpid, _ in plan.prepare] == [3, 2] and [dpid for dpid, _ in plan.commit] == [1]
    assert {mod.cookie & ofmsgs.EPOCH_MASK for _, mod in plan.prepare + plan.commit} == {1}
    assert routes.hops == {}  # nothing is recorded before commit


def test_commit_records_the_desired_routes():
    routes = installed({(A, B): ((2, 3), (3, 9))}, {(A, B): (2, 3)}, unflagged={(A, B)})
    desired = Desired({(A, B): AB_HOPS, (B, A): BA_HOPS}, {(A, B): AB_PATH, (B, A): BA_PATH})
    routes.plan(desired)
    assert routes.commit(desired) == []
    assert routes.hops == desired.hops and routes.paths == desired.paths
    assert routes.unflagged == set()


def test_commit_after_a_switch_was_wiped_mid_plan_deletes_its_rules_and_forgets_them():
    routes = installed({}, {})
    desired = Desired({(A, B): AB_HOPS, (B, A): BA_HOPS, (A, C): ((1, 4), (4, 7))},
                      {(A, B): AB_PATH, (B, A): BA_PATH, (A, C): (1, 4)})
    routes.plan(desired)
    routes.switch_wiped(1)  # reconnected during the barrier waits
    deletes = routes.commit(desired)
    assert sorted((dpid, mod.match["eth_src"], mod.match["eth_dst"]) for dpid, mod in deletes) == [
        (1, A, B), (1, A, C), (1, B, A)]
    assert all(mod.command == ofp.OFPFC_DELETE_STRICT for _, mod in deletes)
    assert routes.hops == {(A, B): ((2, 3), (3, 9)), (B, A): ((3, 2), (2, 1)), (A, C): ((4, 7),)}
    assert set(routes.paths) == set(routes.hops)
    assert routes.unflagged == {(A, B), (A, C)}  # their ingress rules were on s1
