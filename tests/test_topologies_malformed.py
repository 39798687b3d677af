"""Every malformed-input case raises DataFormatError naming the file, the line and the problem."""
import pytest

from qnn.network import Network
from topologies.abilene import load_abilene
from topologies.errors import DataFormatError
from topologies.geant import load_tunnels
from topologies.traffic import load_traffic_matrices, load_values


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _expect(path, line, words, call):
    with pytest.raises(DataFormatError) as info:
        call()
    message = str(info.value)
    assert str(path) in message and f":{line}:" in message, message
    assert info.value.line == line
    for word in words:
        assert word in message, message


GOOD_ROW = "0 1 2 3"  # a 2x2 matrix


@pytest.mark.parametrize("bad_row, words", [
    ("0 1 2", ["expected 4 values", "got 3"]),
    ("0 1 2 3 4", ["expected 4 values", "got 5"]),
    ("0 nan 2 3", ["NaN"]),
    ("0 inf 2 3", ["NaN or infinite"]),
    ("0 -1 2 3", ["negative demand -1"]),
    ("0 x 2 3", ["not a number"]),
])
def test_traffic_matrix_errors_name_file_line_problem(tmp_path, bad_row, words):
    path = _write(tmp_path, "tm.txt", f"{GOOD_ROW}\n{GOOD_ROW}\n{bad_row}\n")
    _expect(path, 3, words, lambda: load_traffic_matrices(path, 2))


def test_traffic_matrix_good_file_parses(tmp_path):
    path = _write(tmp_path, "tm.txt", f"{GOOD_ROW}\n1 2 3 4\n")
    tms = load_traffic_matrices(path, 2)
    assert tms.shape == (2, 2, 2)
    assert tms[1, 0, 1] == 2 and tms[1, 1, 0] == 3 and tms[1, 0, 0] == 0  # row-major, zero diagonal


def test_opt_values_error(tmp_path):
    path = _write(tmp_path, "x.opt", "1.5\n2.0 3.0\n")
    _expect(path, 2, ["expected one number"], lambda: load_values(path))


@pytest.mark.parametrize("bad", ["0", "-1.5"])
def test_optima_must_be_positive(tmp_path, bad):
    path = _write(tmp_path, "x.opt", f"1.5\n{bad}\n")
    _expect(path, 2, ["must be positive"], lambda: load_values(path, positive=True))
    assert list(load_values(path)) == [1.5, float(bad)]  # plain numbers may be anything finite


def _triangle():
    return Network("tri", [0, 1, 2], [(0, 1), (1, 0), (1, 2), (2, 1)], [1.0] * 4, [1.0] * 4)


@pytest.mark.parametrize("line, words", [
    ("0 2:0-2", ["missing link 0->2"]),
    ("0 2:0-1-7-2", ["unknown node 7"]),
    ("0 5:0-1", ["unknown node 5"]),
    ("0 2:0-1", ["does not join 0 to 2"]),
    ("0 2 0-1-2", ["expected 'src dst:"]),
    ("1 1:1", ["to itself"]),
    ("0 2:0-1-2,0-1-2", ["listed twice"]),
    ("0 2:0-1-0-1-2", ["visits a node twice"]),
])
def test_tunnel_errors(tmp_path, line, words):
    path = _write(tmp_path, "tunnels.txt", f"0 1:0-1\n{line}\n")
    _expect(path, 2, words, lambda: load_tunnels(_triangle(), path))


def test_a_tunnels_file_that_is_not_utf8_is_named_by_line(tmp_path):
    path = tmp_path / "tunnels.txt"
    path.write_bytes(b"0 1:0-1\n1 0:1-\xff0\n")
    _expect(path, 2, ["not UTF-8 text"], lambda: load_tunnels(_triangle(), path))


def test_a_tunnels_file_without_tunnels_is_refused(tmp_path):
    path = _write(tmp_path, "tunnels.txt", "\n\n")
    with pytest.raises(DataFormatError, match="no tunnels in file") as info:
        load_tunnels(_triangle(), path)
    assert str(path) in str(info.value)


def test_tunnels_parse(tmp_path):
    path = _write(tmp_path, "tunnels.txt", "0 2:0-1-2\n2 0:2-1-0\n")
    assert load_tunnels(_triangle(), path) == {(0, 2): [(0, 1, 2)], (2, 0): [(2, 1, 0)]}


TSV_HEAD = "Node_num: 3\tEdge_num: 2\nLink_index\tSource\tDestination\tOSPF\tCapacity(kbps)\n"


@pytest.mark.parametrize("body, line, words", [
    ("0\t0\t1\t1\t100\n1\t1\t0\t1\n", 4, ["expected 5 values", "got 4"]),
    ("0\t0\t1\t1\t100\n1\t1\t9\t1\t100\n", 4, ["unknown node 9"]),
    ("0\t0\t1\t0\t100\n", 3, ["must be positive"]),
    ("0\t0\t1\t1\t100\n", 3, ["header says 2 links, file has 1"]),
    ("0\t0\t1\t1\t100\n1\t2\t2\t1\t100\n", 4, ["to itself"]),
    ("0\t0\t1\t1\t100\n1\t0\t1\t1\t100\n", 4, ["listed twice"]),
])
def test_topology_tsv_errors(tmp_path, body, line, words):
    path = _write(tmp_path, "topology.tsv", TSV_HEAD + body)
    _expect(path, line, words, lambda: load_abilene(path))


@pytest.mark.parametrize("head, words", [
    ("Nodes 3 Edges 2", ["expected 'Node_num: N  Edge_num: E'"]),
    ("Node_num: 1\tEdge_num: 2", ["at least 2 nodes"]),
])
def test_topology_tsv_header_errors(tmp_path, head, words):
    path = _write(tmp_path, "topology.tsv", head + "\n0\t0\t1\t1\t100\n")
    _expect(path, 1, words, lambda: load_abilene(path))


def test_topology_tsv_node_without_links_still_counts(tmp_path):
    """Node_num is the node count: a last node with no links must not shrink the network."""
    path = _write(tmp_path, "topology.tsv", TSV_HEAD + "0\t0\t1\t1\t100\n1\t1\t0\t1\t100\n")
    net = load_abilene(path)
    assert net.n_nodes == 3 and net.n_links == 2


@pytest.mark.parametrize("mutate, words", [
    (lambda d: [1, 2], "node-link object"),
    (lambda d: d["nodes"][0].pop("id"), "needs an 'id'"),
    (lambda d: d["links"][0].update(capacity=True), "invalid capacity True"),
    (lambda d: d["links"][0].update(source=1.0), "unknown node"),
    (lambda d: d["links"].append(dict(d["links"][0])), "duplicate link"),
    (lambda d: d["links"][0].update(target=d["links"][0]["source"]), "is a loop"),
    (lambda d: d["links"].clear(), "no links"),
])
def test_geant_json_errors_name_the_file(tmp_path, mutate, words):
    import json

    from topologies.geant import load_geant

    doc = {"nodes": [{"id": 0}, {"id": 1}],
           "links": [{"source": 0, "target": 1, "capacity": 1e9},
                     {"source": 1, "target": 0, "capacity": 1e9}]}
    doc = mutate(doc) or doc
    path = _write(tmp_path, "GEANT.json", json.dumps(doc))
    with pytest.raises(DataFormatError, match=words) as info:
        load_geant(json_path=path)
    assert str(path) in str(info.value)
