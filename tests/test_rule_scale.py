"""The rule-scale table: tunnel-design rules grow linearly with hosts, host-pair rules with
their square (checked by brute force over host pairs)."""
from __future__ import annotations

import networkx as nx
import pytest

from controller import rule_scale


def test_tunnel_rules_grow_by_one_classification_per_host_and_one_delivery_per_own_host():
    tunnels = rule_scale.switch_tunnels("abilene")
    # without local protection: one select group per other switch (protection adds its
    # fast-failover groups and backup rules, counted in tests/test_protection.py)
    rows = [rule_scale.scale_row("abilene", h, tunnels, protect=False) for h in (1, 4, 16)]
    switches = len(rule_scale.network_state("abilene", 1).switches)
    assert switches == 12
    assert all(row.tunnels == sum(len(paths) for paths in tunnels.values()) for row in rows)
    assert all((row.groups, row.buckets) == (rows[0].groups, rows[0].buckets) for row in rows)
    assert rows[0].groups == switches - 1
    for row in rows[1:]:
        # every host is classified on every switch, and delivered on its own
        assert row.flow_rules - rows[0].flow_rules == (switches + 1) * (row.hosts_per_switch - 1)


def test_host_pair_rules_are_one_per_host_pair_on_each_switch_of_its_shortest_path():
    state = rule_scale.network_state("abilene", 2)
    graph = state.graph()
    brute: dict[int, int] = {dpid: 0 for dpid in graph}
    hosts = list(state.hosts.values())
    for a in hosts:
        for b in hosts:
            if a.mac != b.mac:
                for dpid in nx.dijkstra_path(graph, a.dpid, b.dpid, weight="ospf"):
                    brute[dpid] += 1
    assert rule_scale.host_pair_rules(state, 2) == brute


def test_the_command_prints_a_markdown_row_per_host_count(capsys):
    from qnn.cli import main

    assert main(["rules", "--topology", "abilene", "--hosts-per-switch", "1,2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| abilene: hosts per switch | tunnels | flow rules |")
    assert [line.split("|")[1].strip() for line in lines[2:4]] == ["1", "2"]


def test_a_bad_host_count_is_refused(capsys):
    from qnn.cli import main

    with pytest.raises(SystemExit) as refused:
        main(["rules", "--hosts-per-switch", "0,x"])
    assert refused.value.code == 2
    refusal = "qroute rules: error: argument --hosts-per-switch: must be at least 1, not 0"
    assert refusal in capsys.readouterr().err
