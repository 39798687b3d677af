"""The ARP decision and packet delivery on literal frames, without an app or datapaths."""
from __future__ import annotations

from ryu.lib.packet import arp, ethernet, ipv4, lldp, packet, vlan
from ryu.ofproto import ether
from ryu.ofproto import ofproto_v1_3 as ofp

from controller import edge_guard
from controller.arp_proxy import FloodGuard, handle_packet
from controller.netstate import NetworkState
from tests.fakes import arp_frame, ip, ipv4_frame, mac

HOST, LINK = 1, 2  # on s1 and s2: port 1 is the host port, port 2 the link between them


def network():
    state = NetworkState()
    state.add_link(1, 2, LINK, LINK)
    state.add_link(2, 1, LINK, LINK)
    for dpid in (1, 2, 3):
        state.set_ports(dpid, {HOST, LINK})
    return state, FloodGuard(window_s=1.0)


def outputs(messages):
    return [(dpid, msg.actions[0].port) for dpid, msg in messages]


def test_a_request_for_an_unknown_host_is_flooded_to_other_edge_ports_of_connected_switches():
    state, guard = network()
    request = arp_frame(arp.ARP_REQUEST, 1, ip(2))
    learned, messages = handle_packet(request, 1, HOST, 0.0, state, guard, connected=[1, 2])
    assert learned == mac(1) and state.hosts[mac(1)].ip == ip(1)
    assert outputs(messages) == [(2, HOST)]  # not back to the asker, not over the link, not s3
    assert all(msg.data == request and msg.in_port == ofp.OFPP_CONTROLLER for _, msg in messages)


def test_a_request_is_flooded_once_per_window():
    state, guard = network()
    request = arp_frame(arp.ARP_REQUEST, 1, ip(2))
    handle_packet(request, 1, HOST, 0.0, state, guard, [1, 2])
    assert handle_packet(request, 1, HOST, 0.5, state, guard, [1, 2]) == (None, [])  # retried
    assert handle_packet(request, 2, LINK, 0.5, state, guard, [1, 2]) == (None, [])  # a copy
    assert state.hosts[mac(1)].dpid == 1  # the copy did not move the asker
    assert outputs(handle_packet(request, 1, HOST, 1.5, state, guard, [1, 2])[1]) == [(2, HOST)]


def test_a_request_for_a_known_host_is_answered_to_the_asker_even_when_retried():
    state, guard = network()
    state.learn_host(mac(2), 2, HOST, ip(2))
    request = arp_frame(arp.ARP_REQUEST, 1, ip(2))
    for now in (0.0, 0.1):  # the second: the asker retries, its reply was lost
        learned, messages = handle_packet(request, 1, HOST, now, state, guard, [1, 2])
        assert outputs(messages) == [(1, HOST)]
        reply = packet.Packet(messages[0][1].data)
        eth, answer = reply.get_protocol(ethernet.ethernet), reply.get_protocol(arp.arp)
        assert answer.opcode == arp.ARP_REPLY
        assert (answer.src_mac, answer.src_ip) == (mac(2), ip(2))
        assert (answer.dst_mac, answer.dst_ip) == (mac(1), ip(1))
        assert (eth.src, eth.dst, eth.ethertype) == (mac(2), mac(1), ether.ETH_TYPE_ARP)
    assert learned is None  # the asker was new the first time only


def test_a_reply_is_delivered_to_a_known_target_and_flooded_otherwise():
    state, guard = network()
    reply = arp_frame(arp.ARP_REPLY, 2, ip(1), dst_mac=mac(1))
    learned, messages = handle_packet(reply, 2, HOST, 0.0, state, guard, [1, 2, 3])
    assert learned == mac(2) and outputs(messages) == [(1, HOST), (3, HOST), (3, LINK)]  # unknown
    state.learn_host(mac(1), 1, HOST, ip(1))
    learned, messages = handle_packet(reply, 2, HOST, 0.0, state, guard, [1, 2, 3])
    assert learned is None and outputs(messages) == [(1, HOST)]
    # known, but its switch is not connected: flooded to the edge ports that are
    assert outputs(handle_packet(reply, 2, HOST, 0.0, state, guard, [2, 3])[1]) == [(3, HOST), (3, LINK)]


def test_ipv4_teaches_its_sender_and_is_delivered_to_a_known_destination():
    state, guard = network()
    frame = ipv4_frame(1, 2)
    assert handle_packet(frame, 1, HOST, 0.0, state, guard, [1, 2]) == (mac(1), [])  # 2 unknown
    state.learn_host(mac(2), 2, HOST)
    learned, messages = handle_packet(frame, 1, HOST, 0.0, state, guard, [1, 2])
    assert learned is None and outputs(messages) == [(2, HOST)] and messages[0][1].data == frame
    assert handle_packet(ipv4_frame(1, 2), 2, LINK, 0.0, state, guard, [1, 2])[0] is None  # a link port


def test_lldp_and_other_frames_are_dropped_without_learning():
    state, guard = network()
    lldp_pkt = packet.Packet()
    lldp_pkt.add_protocol(ethernet.ethernet(dst=lldp.LLDP_MAC_NEAREST_BRIDGE, src=mac(1),
                                            ethertype=ether.ETH_TYPE_LLDP))
    lldp_pkt.add_protocol(lldp.lldp([lldp.ChassisID(subtype=lldp.ChassisID.SUB_LOCALLY_ASSIGNED,
                                                    chassis_id=b"dpid:1"),
                                     lldp.PortID(subtype=lldp.PortID.SUB_PORT_COMPONENT, port_id=b"1"),
                                     lldp.TTL(ttl=1), lldp.End()]))
    ipv6 = packet.Packet()
    ipv6.add_protocol(ethernet.ethernet(dst="ff:ff:ff:ff:ff:ff", src=mac(1), ethertype=0x86DD))
    ipv6.add_protocol(b"x" * 40)
    for pkt in (lldp_pkt, ipv6):
        pkt.serialize()
        assert handle_packet(bytes(pkt.data), 1, HOST, 0.0, state, guard, [1, 2]) == (None, [])
    assert state.hosts == {}


def test_a_tunnel_tagged_frame_teaches_nothing_and_is_not_delivered():
    """A VLAN-tagged frame at the controller is tunnel traffic that met no rule (a stale bucket,
    a switch that just reconnected): its sender is behind another switch, not at this port."""
    state, guard = network()
    state.learn_host(mac(2), 2, HOST)
    tagged = packet.Packet()
    tagged.add_protocol(ethernet.ethernet(dst=mac(2), src=mac(1), ethertype=ether.ETH_TYPE_8021Q))
    tagged.add_protocol(vlan.vlan(vid=17, ethertype=ether.ETH_TYPE_IP))
    tagged.add_protocol(ipv4.ipv4(src=ip(1), dst=ip(2), proto=17))
    tagged.serialize()
    assert handle_packet(bytes(tagged.data), 1, HOST, 0.0, state, guard, [1, 2]) == (None, [])
    assert mac(1) not in state.hosts


def test_an_unknown_target_behind_a_switch_with_known_hosts_is_probed_and_learned_from_its_answer():
    """Only broadcast ARP reaches the controller: on s2, which has a known host, the unknown
    target's unicast reply to the asker would follow the classification rules and pass the
    controller by. So s2 gets no copy of the request but the controller's probe (sender
    0.0.0.0, so no neighbour table changes) out of its edge ports; the target answers the
    controller, which learns it and answers the asker itself."""
    from controller.edge_guard import PROBE_MAC

    state, guard = network()
    state.set_ports(2, {HOST, LINK, 3})
    state.learn_host(mac(3), 2, 3, ip(3))
    request = arp_frame(arp.ARP_REQUEST, 1, ip(2))
    _, messages = handle_packet(request, 1, HOST, 0.0, state, guard, connected=[1, 2])
    assert [m for _, m in messages if m.data == request] == []
    assert [(d, m.actions[0].port) for d, m in messages] == [(2, HOST), (2, 3)]
    probe = packet.Packet(messages[0][1].data)
    eth, asked = probe.get_protocol(ethernet.ethernet), probe.get_protocol(arp.arp)
    assert (eth.src, eth.dst) == (PROBE_MAC, "ff:ff:ff:ff:ff:ff")
    assert (asked.opcode, asked.src_mac, asked.src_ip, asked.dst_ip) == (arp.ARP_REQUEST, PROBE_MAC,
                                                                          "0.0.0.0", ip(2))
    answer = arp_frame(arp.ARP_REPLY, 2, "0.0.0.0", dst_mac=PROBE_MAC)
    learned, messages = handle_packet(answer, 2, HOST, 0.1, state, guard, [1, 2])
    assert learned == mac(2) and state.hosts[mac(2)].ip == ip(2)
    assert [(d, m.actions[0].port) for d, m in messages] == [(1, HOST)]   # the asker's answer
    told = packet.Packet(messages[0][1].data).get_protocol(arp.arp)
    assert (told.opcode, told.src_mac, told.src_ip, told.dst_mac, told.dst_ip) == (
        arp.ARP_REPLY, mac(2), ip(2), mac(1), ip(1))


def test_an_ask_older_than_the_window_is_not_answered_late():
    state, guard = network()
    state.set_ports(2, {HOST, LINK, 3})
    state.learn_host(mac(3), 2, 3, ip(3))
    handle_packet(arp_frame(arp.ARP_REQUEST, 1, ip(2)), 1, HOST, 0.0, state, guard, connected=[1, 2])
    answer = arp_frame(arp.ARP_REPLY, 2, "0.0.0.0", dst_mac=edge_guard.PROBE_MAC)
    learned, messages = handle_packet(answer, 2, HOST, 5.0, state, guard, [1, 2])
    assert learned == mac(2) and messages == []
