"""Topology files of every format load into the same Network; bad input names file:line: problem."""
import json
import math

import networkx as nx
import numpy as np
import pytest

from topologies.errors import DataFormatError
from topologies.files import detect_format, id_sort_key, is_topology_file, read_topology

# a triangle a-b-c plus a tail c-d: 4 nodes, 4 undirected edges
TRIANGLE_JSON = {
    "directed": False, "multigraph": False, "graph": {"name": "tri"},
    "nodes": [{"id": "c", "lat": 1.5, "lon": 2.5}, {"id": "a"}, {"id": "b"}, {"id": "d"}],
    "links": [{"source": "a", "target": "b", "capacity": 1e9, "weight": 5},
              {"source": "b", "target": "c", "capacity": 2e9},
              {"source": "c", "target": "a", "capacity": 4e9},
              {"source": "c", "target": "d", "capacity": 1e10, "cost": 7}],
}


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text if isinstance(text, str) else json.dumps(text))
    return path


def _expect(path, line, words, call):
    with pytest.raises(DataFormatError) as info:
        call()
    message = str(info.value)
    where = f"{path}:{line}:" if line is not None else f"{path}:"
    assert message.startswith(where), message
    assert info.value.line == line
    for word in words:
        assert word in message, message
    return message


def _links(tf):
    """{(file id u, file id v): (capacity, weight)} of a loaded file, in the file's own ids."""
    net, ids = tf.network, tf.node_ids
    return {(ids[u], ids[v]): (net.capacity[i], net.weight[i]) for i, (u, v) in enumerate(net.links)}


def test_node_link_json_undirected_becomes_two_directed_links(tmp_path):
    tf = read_topology(_write(tmp_path, "net.txt", TRIANGLE_JSON))  # the suffix says nothing
    assert tf.format == "node-link JSON"
    assert tf.node_ids == ["a", "b", "c", "d"]  # sorted ids: node i is the i-th
    assert tf.network.name == "tri"
    assert _links(tf) == {("a", "b"): (1e9, 5), ("b", "a"): (1e9, 5),
                          ("b", "c"): (2e9, 5), ("c", "b"): (2e9, 5),  # 10G / 2G
                          ("c", "a"): (4e9, 2), ("a", "c"): (4e9, 2),  # round(2.5) = 2
                          ("c", "d"): (1e10, 7), ("d", "c"): (1e10, 7)}
    assert tf.coordinates == {2: (1.5, 2.5)}
    assert tf.capacity_rule == "from the file"
    assert "from the file" in tf.weight_rule and "inverse capacity" in tf.weight_rule
    assert tf.demands is None


def test_node_link_json_directed_with_edges_key_and_integer_ids(tmp_path):
    doc = {"directed": True, "nodes": [{"id": 10}, {"id": 2}, {"id": 7}],
           "edges": [{"source": 2, "target": 7, "capacity": 1e10},
                     {"source": 7, "target": 10, "capacity": 1e10},
                     {"source": 10, "target": 2, "capacity": 5e9}]}
    tf = read_topology(_write(tmp_path, "ring.json", doc))
    assert tf.node_ids == [2, 7, 10]  # numbers in numeric order
    assert tf.network.links == [(0, 1), (1, 2), (2, 0)]
    assert list(tf.network.weight) == [1, 1, 2]


def test_missing_capacities_take_the_named_rule(tmp_path):
    # a star with centre 0 (degree 3) and a leaf pair 1-2 (degree 2 each)
    doc = {"nodes": [{"id": i} for i in range(4)],
           "links": [{"source": 0, "target": 1}, {"source": 0, "target": 2}, {"source": 0, "target": 3},
                     {"source": 1, "target": 2}]}
    path = _write(tmp_path, "star.json", doc)
    uniform = read_topology(path)
    assert set(uniform.network.capacity) == {10e9} and "uniform 10 Gbit/s" in uniform.capacity_rule
    assert set(uniform.network.weight) == {1.0}
    degree = read_topology(path, capacity_rule="degree")
    caps = _links(degree)
    # min end degree: 0-3 -> 1 -> 1x; 0-1 -> 2 -> 2x; 1-2 -> 2 -> 2x
    assert caps[(0, 3)][0] == 10e9 and caps[(0, 1)][0] == 20e9 and caps[(1, 2)][0] == 20e9
    assert "degree" in degree.capacity_rule
    with pytest.raises(ValueError, match="capacity_rule"):
        read_topology(path, capacity_rule="median")


def test_partial_capacities_say_how_many_came_from_the_rule(tmp_path):
    doc = {"nodes": [{"id": i} for i in range(3)],
           "links": [{"source": 0, "target": 1, "capacity": 1e9}, {"source": 1, "target": 2}]}
    tf = read_topology(_write(tmp_path, "p.json", doc))
    assert "for 1 of 2 links" in tf.capacity_rule and "for the other 1" in tf.capacity_rule
    assert _links(tf)[(1, 2)][0] == 10e9


def test_topohub_document_loads_as_the_topohub_name_does(tmp_path):
    topohub = pytest.importorskip("topohub")
    from topologies.zoo import load_topohub

    tf = read_topology(_write(tmp_path, "abilene.json", topohub.get("topozoo/Abilene")))
    named = load_topohub("topozoo/Abilene")
    assert tf.network.links == named.links
    assert np.array_equal(tf.network.capacity, named.capacity)
    assert np.array_equal(tf.network.weight, named.weight)
    assert tf.network.node_names == named.node_names
    assert tf.coordinates[0] == (40.71, -74.01)  # New York, from topohub's [lon, lat]
    assert tf.weight_rule == "link length dist in km, rounded up"


def test_mixed_id_types_sort_numbers_before_strings():
    assert sorted(["b", 3, "a", 1.5, 10], key=id_sort_key) == [1.5, 3, 10, "a", "b"]


def test_summary_names_rules_and_mapping(tmp_path):
    text = read_topology(_write(tmp_path, "t.json", TRIANGLE_JSON)).summary()
    assert "4 nodes, 8 directed links" in text
    assert "'a'->0, 'b'->1, 'c'->2, 'd'->3" in text
    big = {"nodes": [{"id": i} for i in range(30)],
           "links": [{"source": i, "target": i + 1} for i in range(29)]}
    text = read_topology(_write(tmp_path, "line.json", big)).summary()
    assert "9->9, ..., 29->29" in text and "15->15" not in text


def test_is_topology_file(tmp_path):
    path = _write(tmp_path, "anything", TRIANGLE_JSON)
    assert is_topology_file(path) and is_topology_file("missing/net.graphml")
    assert not is_topology_file("geant") and not is_topology_file("topozoo/Abilene")


# ---- bad input ------------------------------------------------------------------------------------

def test_unknown_format(tmp_path):
    path = _write(tmp_path, "net.json", "hello world\n")
    _expect(path, None, ["unknown topology format"], lambda: read_topology(path))
    assert detect_format("[1, 2]") is None


def test_json_syntax_error_names_its_line(tmp_path):
    path = _write(tmp_path, "net.json", '{"nodes": [],\n "links": [,]}\n')
    _expect(path, 2, ["invalid JSON"], lambda: read_topology(path))


def _with_links(links, directed=False, **extra):
    return {"directed": directed, "nodes": [{"id": i} for i in range(3)], "links": links, **extra}


RING = [{"source": 0, "target": 1, "capacity": 1e9}, {"source": 1, "target": 2, "capacity": 1e9},
        {"source": 2, "target": 0, "capacity": 1e9}]


def test_link_to_a_missing_node(tmp_path):
    path = _write(tmp_path, "n.json", _with_links(RING + [{"source": 2, "target": 9}]))
    _expect(path, None, ["link 3", "node 9", "not a node"], lambda: read_topology(path))


@pytest.mark.parametrize("capacity", [-1e9, 0, "nan", float("nan"), "fast"])
def test_negative_zero_or_nan_capacity(tmp_path, capacity):
    bad = {"source": 2, "target": 0, "capacity": capacity}
    path = _write(tmp_path, "n.json", _with_links(RING[:2] + [bad]))
    _expect(path, None, ["link 2", "capacity", "not a positive number"], lambda: read_topology(path))


def test_duplicate_link_with_another_capacity_is_an_error(tmp_path):
    path = _write(tmp_path, "n.json", _with_links(RING + [{"source": 1, "target": 0, "capacity": 2e9}]))
    _expect(path, None, ["link 3", "repeats link 0", "different capacity"], lambda: read_topology(path))


def test_duplicate_link_with_the_same_capacity_is_one_link(tmp_path):
    path = _write(tmp_path, "n.json", _with_links(RING + [{"source": 1, "target": 0, "capacity": 1e9}]))
    assert read_topology(path).network.n_links == 6


def test_multigraph_parallel_links_are_one_bundle(tmp_path):
    path = _write(tmp_path, "n.json", _with_links(RING + [{"source": 1, "target": 0, "capacity": 2e9}],
                                                  multigraph=True))
    tf = read_topology(path)
    assert tf.network.n_links == 6 and _links(tf)[(0, 1)][0] == 3e9


def test_directed_links_both_ways_are_two_links(tmp_path):
    links = RING + [{"source": 1, "target": 0, "capacity": 2e9}, {"source": 2, "target": 1, "capacity": 1e9},
                    {"source": 0, "target": 2, "capacity": 1e9}]
    tf = read_topology(_write(tmp_path, "n.json", _with_links(links, directed=True)))
    assert _links(tf)[(1, 0)][0] == 2e9 and _links(tf)[(0, 1)][0] == 1e9


def test_disconnected_graph_names_pairs_without_a_path(tmp_path):
    doc = {"nodes": [{"id": i} for i in range(4)],
           "links": [{"source": 0, "target": 1}, {"source": 2, "target": 3}]}
    path = _write(tmp_path, "n.json", doc)
    message = _expect(path, None, ["not connected", "8 ordered pair(s) have no path"],
                      lambda: read_topology(path))
    assert "0->2" in message


def test_directed_graph_one_way_is_not_connected(tmp_path):
    path = _write(tmp_path, "n.json", _with_links(RING[:2], directed=True))
    _expect(path, None, ["3 ordered pair(s)", "1->0"], lambda: read_topology(path))


def test_self_loop_and_bad_weight(tmp_path):
    path = _write(tmp_path, "n.json", _with_links(RING + [{"source": 1, "target": 1}]))
    _expect(path, None, ["link 3", "loop"], lambda: read_topology(path))
    path = _write(tmp_path, "w.json", _with_links(RING[:2] + [{"source": 2, "target": 0, "weight": -3}]))
    _expect(path, None, ["link 2", "weight -3"], lambda: read_topology(path))


def test_a_node_listed_twice(tmp_path):
    doc = _with_links(RING)
    doc["nodes"].append({"id": 1})
    path = _write(tmp_path, "n.json", doc)
    _expect(path, None, ["node 3: node 1 is listed twice (first as node 1)"], lambda: read_topology(path))
    path = _write(tmp_path, "n.gml", ZOO_GML.replace("node [ id 2", "node [ id 1"))
    _expect(path, 12, ["node 1 is listed twice (first at line 11)"], lambda: read_topology(path))


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.json"
    _expect(missing, None, ["no such topology file"], lambda: read_topology(missing))


def test_label_speeds_parse():
    from topologies.files import _label_capacity

    assert _label_capacity("10 Gbps") == 10e9
    assert _label_capacity("2.5Gb/s") == 2.5e9
    assert _label_capacity("100 Mbps link") == 100e6
    assert math.isclose(_label_capacity("OC-192"), 192 * 51.84e6)
    assert math.isclose(_label_capacity("STM-16"), 48 * 51.84e6)
    assert _label_capacity("fibre") is None


def test_networkx_written_node_link_loads(tmp_path):
    graph = nx.cycle_graph(5)
    nx.set_edge_attributes(graph, 1e9, "capacity")
    doc = nx.node_link_data(graph, edges="links")
    tf = read_topology(_write(tmp_path, "c5.json", doc))
    assert tf.network.n_links == 10 and set(tf.network.capacity) == {1e9}


# ---- GraphML, GML, SNDlib: literal files in each format's own syntax -----------------------------

ZOO_GRAPHML = """<?xml version="1.0" encoding="utf-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="Latitude" attr.type="double" for="node" id="d1" />
  <key attr.name="Longitude" attr.type="double" for="node" id="d2" />
  <key attr.name="label" attr.type="string" for="node" id="d3" />
  <key attr.name="LinkLabel" attr.type="string" for="edge" id="d4" />
  <key attr.name="LinkSpeed" attr.type="string" for="edge" id="d5" />
  <key attr.name="LinkSpeedUnits" attr.type="string" for="edge" id="d6" />
  <key attr.name="LinkSpeedRaw" attr.type="double" for="edge" id="d7" />
  <graph edgedefault="undirected">
    <data key="d3">Tiny</data>
    <node id="0"><data key="d1">52.37</data><data key="d2">4.89</data><data key="d3">Amsterdam</data></node>
    <node id="1"><data key="d3">London</data></node>
    <node id="2"><data key="d3">Paris</data></node>
    <edge source="0" target="1"><data key="d5">10</data><data key="d6">G</data></edge>
    <edge source="1" target="2"><data key="d4">2.5 Gbps</data></edge>
    <edge source="2" target="0"><data key="d7">1000000000.0</data></edge>
  </graph>
</graphml>
"""

ZOO_GML = """Creator "Topology Zoo Toolset"
graph [
  directed 0
  label "Tiny"
  node [
    id 0
    label "Amsterdam"
    Latitude 52.37
    Longitude 4.89
  ]
  node [ id 1 label "London" ]
  node [ id 2 label "Paris" ]
  edge [ source 0 target 1 LinkSpeed "10" LinkSpeedUnits "G" ]
  edge [ source 1 target 2 LinkLabel "2.5 Gbps" ]
  edge [
    source 2
    target 0
    LinkSpeedRaw 1000000000.0
  ]
]
"""

SNDLIB_NATIVE = """?SNDlib native format; type: network; version: 1.0
# network tiny

# NODE SECTION
#
# <node_id> [(<longitude>, <latitude>)]

NODES (
  AMS ( 4.89 52.37 )
  LON ( -0.12 51.51 )
  PAR ( 2.35 48.86 )
)

# LINK SECTION
#
# <link_id> ( <source> <target> ) <pre_installed_capacity> <pre_installed_capacity_cost> <routing_cost> \
<setup_cost> ( {<module_capacity> <module_cost>}* )

LINKS (
  L1 ( AMS LON ) 10000.00 0.00 0.00 0.00 ( 40000.00 1.00 )
  L2 ( LON PAR ) 0.00 0.00 0.00 0.00 ( 622.00 1.00 2500.00 3.00 )
  L3 ( PAR AMS ) 1000.00 0.00 0.00 0.00 ( )
)

# DEMAND SECTION
#
# <demand_id> ( <source> <target> ) <routing_unit> <demand_value> <max_path_length>

DEMANDS (
  D1 ( AMS PAR ) 1 120.50 UNLIMITED
  D2 ( PAR LON ) 1 30.00 UNLIMITED
)

# ADMISSIBLE PATHS SECTION
#
# <demand_id> ( {<path_id> ( <link_id>+ )}+ )

ADMISSIBLE_PATHS (
)
"""

SNDLIB_XML = """<?xml version="1.0" encoding="ISO-8859-1"?>
<network xmlns="http://sndlib.zib.de/network" version="1.0">
 <meta><granularity>STATIC</granularity><unit>MBITPERSEC</unit></meta>
 <networkStructure>
  <nodes coordinatesType="geographical">
   <node id="AMS"><coordinates><x>4.89</x><y>52.37</y></coordinates></node>
   <node id="LON"><coordinates><x>-0.12</x><y>51.51</y></coordinates></node>
   <node id="PAR"><coordinates><x>2.35</x><y>48.86</y></coordinates></node>
  </nodes>
  <links>
   <link id="L1"><source>AMS</source><target>LON</target>
    <preInstalledModule><capacity>10000.0</capacity><cost>0.0</cost></preInstalledModule>
    <additionalModules><addModule><capacity>40000.0</capacity><cost>1.0</cost></addModule></additionalModules>
   </link>
   <link id="L2"><source>LON</source><target>PAR</target>
    <additionalModules>
     <addModule><capacity>622.0</capacity><cost>1.0</cost></addModule>
     <addModule><capacity>2500.0</capacity><cost>3.0</cost></addModule>
    </additionalModules>
   </link>
   <link id="L3"><source>PAR</source><target>AMS</target>
    <preInstalledModule><capacity>1000.0</capacity><cost>0.0</cost></preInstalledModule>
   </link>
  </links>
 </networkStructure>
 <demands>
  <demand id="D1"><source>AMS</source><target>PAR</target><demandValue>120.5</demandValue></demand>
  <demand id="D2"><source>PAR</source><target>LON</target><demandValue>30.0</demandValue></demand>
 </demands>
</network>
"""


@pytest.mark.parametrize("text, fmt", [(ZOO_GRAPHML, "GraphML"), (ZOO_GML, "GML")])
def test_topology_zoo_speeds_and_coordinates(tmp_path, text, fmt):
    tf = read_topology(_write(tmp_path, "tiny.dat", text))
    assert tf.format == fmt and tf.network.name == "Tiny"
    ids = tf.node_ids
    assert tf.network.node_names == ["Amsterdam", "London", "Paris"]
    caps = {(ids[u], ids[v]): c for (u, v), c in zip(tf.network.links, tf.network.capacity)}
    first = ids[0]  # "0" (GraphML: a string) or 0 (GML: a number)
    second, third = ids[1], ids[2]
    assert caps[(first, second)] == caps[(second, first)] == 10e9   # LinkSpeed 10 G
    assert caps[(second, third)] == 2.5e9                           # LinkLabel "2.5 Gbps"
    assert caps[(third, first)] == 1e9                              # LinkSpeedRaw
    assert tf.coordinates == {0: (52.37, 4.89)}
    assert tf.capacity_rule.startswith("from the file")


@pytest.mark.parametrize("text, fmt", [(SNDLIB_NATIVE, "SNDlib native"), (SNDLIB_XML, "SNDlib XML")])
def test_sndlib_capacities_modules_and_demands(tmp_path, text, fmt):
    tf = read_topology(_write(tmp_path, "tiny.txt", text))
    assert tf.format == fmt and tf.node_ids == ["AMS", "LON", "PAR"]
    caps = _links(tf)
    assert caps[("AMS", "LON")][0] == caps[("LON", "AMS")][0] == 10e9   # pre-installed, Mbit/s
    assert caps[("LON", "PAR")][0] == 2.5e9                            # no pre-installed: largest module
    assert caps[("PAR", "AMS")][0] == 1e9
    expected = np.zeros((3, 3))
    expected[0, 2], expected[2, 1] = 120.5e6, 30e6
    assert np.array_equal(tf.demands, expected)
    assert tf.coordinates[1] == (51.51, -0.12)
    assert "Mbit/s" in tf.capacity_rule


def test_graphml_bad_xml_and_missing_node_name_their_line(tmp_path):
    path = _write(tmp_path, "bad.graphml", ZOO_GRAPHML.replace("</graph>", "</grap>"))
    _expect(path, 18, ["invalid XML"], lambda: read_topology(path))
    text = ZOO_GRAPHML.replace('source="2" target="0"', 'source="2" target="9"')
    path = _write(tmp_path, "miss.graphml", text)
    _expect(path, 17, ["edge 2", "node '9'", "not a node"], lambda: read_topology(path))


def test_gml_errors_name_their_line(tmp_path):
    path = _write(tmp_path, "bad.gml", ZOO_GML.replace("LinkSpeedRaw 1000000000.0", "LinkSpeedRaw -5"))
    _expect(path, 15, ["LinkSpeedRaw -5", "not a positive number"], lambda: read_topology(path))
    text = ZOO_GML.replace("]\n]\n", "]\n  edge [ source 1 target 0 LinkSpeedRaw 5.0 ]\n]\n")
    path = _write(tmp_path, "dup.gml", text)
    _expect(path, 20, ["repeats edge at line 13", "different capacity"], lambda: read_topology(path))
    path = _write(tmp_path, "open.gml", ZOO_GML.rstrip().rstrip("]"))
    _expect(path, 19, ["ends inside a list"], lambda: read_topology(path))


def test_sndlib_errors_name_their_line(tmp_path):
    text = SNDLIB_NATIVE.replace("L3 ( PAR AMS ) 1000.00", "L3 ( PAR AMS ) -1000.00")
    path = _write(tmp_path, "bad.txt", text)
    _expect(path, 21, ["link L3", "negative capacity"], lambda: read_topology(path))
    path = _write(tmp_path, "miss.txt", SNDLIB_NATIVE.replace("D2 ( PAR LON )", "D2 ( PAR BER )"))
    _expect(path, 30, ["demand 'PAR'->'BER'", "not a node"], lambda: read_topology(path))
    path = _write(tmp_path, "miss.xml", SNDLIB_XML.replace("<target>AMS</target>", "<target>ROM</target>"))
    _expect(path, 21, ["link L3", "node 'ROM'"], lambda: read_topology(path))


def _topohub_graph(key):
    """A topohub topology as a networkx graph with Topology Zoo's attribute names."""
    topohub = pytest.importorskip("topohub")
    doc = topohub.get(key)
    graph = nx.node_link_graph(doc, edges="edges")
    graph.graph.clear()
    for _, attrs in graph.nodes(data=True):
        lon, lat = attrs.pop("pos")
        attrs.update(Latitude=lat, Longitude=lon)
    for _, _, attrs in graph.edges(data=True):
        attrs.pop("ecmp_fwd", None)
        attrs.pop("ecmp_bwd", None)
    return graph, doc


def test_topology_zoo_graphml_and_gml_written_by_networkx(tmp_path):
    graph, _ = _topohub_graph("topozoo/Abilene")
    for i, (_, _, attrs) in enumerate(graph.edges(data=True)):
        attrs["LinkLabel"] = "10 Gbps" if i % 2 else "OC-48"
    nx.write_graphml(graph, tmp_path / "abilene.graphml")
    nx.write_gml(graph, tmp_path / "abilene.gml")
    graphml, gml = read_topology(tmp_path / "abilene.graphml"), read_topology(tmp_path / "abilene.gml")
    from topologies.zoo import load_topohub

    named = load_topohub("topozoo/Abilene")
    assert graphml.network.links == named.links  # string ids sort as topohub's do
    assert np.array_equal(graphml.network.weight, named.weight)
    for tf in (graphml, gml):
        assert tf.network.n_nodes == graph.number_of_nodes()
        assert tf.network.n_links == 2 * graph.number_of_edges()
        assert set(tf.network.capacity) == {10e9, 48 * 51.84e6}
        new_york = tf.node_ids.index("0" if tf is graphml else 0)
        assert tf.coordinates[new_york] == (40.71, -74.01)


def sndlib_native_text(doc, capacity_mbps: float = 10000.0) -> str:
    """An SNDlib native file for a topohub document: its nodes, its demands and links of
    ``capacity_mbps``."""
    lines = ["?SNDlib native format; type: network; version: 1.0", "NODES ("]
    lines += [f"  N{n['id']} ( {n['pos'][0]} {n['pos'][1]} )" for n in doc["nodes"]]
    lines += [")", "LINKS ("]
    lines += [f"  L{i} ( N{e['source']} N{e['target']} ) {capacity_mbps:.2f} 0.00 0.00 0.00 ( )"
              for i, e in enumerate(doc["edges"])]
    lines += [")", "DEMANDS ("]
    for src, row in sorted(doc["graph"].get("demands", {}).items()):
        for dst, value in sorted(row.items()):
            lines.append(f"  D{src}_{dst} ( N{src} N{dst} ) 1 {value:.2f} UNLIMITED")
    lines += [")"]
    return "\n".join(lines) + "\n"


def test_sndlib_native_written_from_topohub(tmp_path):
    topohub = pytest.importorskip("topohub")
    doc = topohub.get("sndlib/abilene")
    tf = read_topology(_write(tmp_path, "abilene.txt", sndlib_native_text(doc)))
    assert tf.network.n_nodes == len(doc["nodes"]) and tf.network.n_links == 2 * len(doc["edges"])
    index = {node_id: i for i, node_id in enumerate(tf.node_ids)}
    src, row = next(iter(doc["graph"]["demands"].items()))
    dst, value = next(iter(row.items()))
    assert math.isclose(tf.demands[index[f"N{src}"], index[f"N{dst}"]], round(value, 2) * 1e6)
