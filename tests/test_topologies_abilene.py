"""The Abilene facts are usable without numpy/networkx (Mininet runs under Debian's bare python3)."""
import pathlib
import subprocess
import sys

from topologies.abilene import ABILENE_LINKS, ABILENE_NODES, load_abilene

REPO = pathlib.Path(__file__).resolve().parent.parent


def test_importing_abilene_and_datadir_pulls_in_no_third_party_module():
    code = ("import sys, topologies.abilene, topologies.datadir, topologies.errors; "
            "bad = [m for m in ('numpy', 'networkx', 'scipy', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_facts_are_consistent():
    assert [n.index for n in ABILENE_NODES] == list(range(12))
    assert [f.index for f in ABILENE_LINKS] == list(range(30))
    pairs = {(f.src, f.dst): f for f in ABILENE_LINKS}
    for (u, v), fact in pairs.items():  # every link has a reverse twin with the same weight and capacity
        twin = pairs[(v, u)]
        assert (twin.ospf_weight, twin.capacity_kbps) == (fact.ospf_weight, fact.capacity_kbps)
    net = load_abilene()
    assert net.capacity[3] == 2.48e9 and net.node_names[1] == "ATLAng"
