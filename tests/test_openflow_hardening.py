"""A malformed message from a switch must not freeze the controller (Ryu 4.34 loops forever on
a zero-length instruction or action)."""
import struct
import threading

import pytest
from ryu.ofproto import ofproto_parser, ofproto_protocol, ofproto_v1_3

from controller.compat import harden_openflow13_parser

harden_openflow13_parser()


def flow_stats_reply(instruction: bytes) -> bytes:
    match = struct.pack("!HH4x", 1, 4)  # empty OXM match, padded to 8 bytes
    entry_body = struct.pack("!BxIIHHHH4xQQQ", 0, 1, 0, 100, 0, 0, 0, 1, 10, 1000)
    entry = struct.pack("!H", 2 + len(entry_body) + len(match) + len(instruction))
    entry += entry_body + match + instruction
    body = struct.pack("!HH4x", ofproto_v1_3.OFPMP_FLOW, 0) + entry
    header = struct.pack("!BBHI", ofproto_v1_3.OFP_VERSION, ofproto_v1_3.OFPT_MULTIPART_REPLY,
                         8 + len(body), 7)
    return header + body


def parse(raw: bytes):
    datapath = ofproto_protocol.ProtocolDesc(version=ofproto_v1_3.OFP_VERSION)
    version, msg_type, msg_len, xid = ofproto_parser.header(raw)
    return ofproto_parser.msg(datapath, version, msg_type, msg_len, xid, raw)


def parse_within(raw: bytes, seconds: float):
    outcome = {}

    def run():
        try:
            outcome["msg"] = parse(raw)
        except Exception as error:  # noqa: BLE001 - the test inspects it
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the OpenFlow parser is stuck in a loop"
    return outcome


def test_a_well_formed_flow_stats_reply_still_parses():
    output = struct.pack("!HHIH6x", ofproto_v1_3.OFPAT_OUTPUT, 16, 2, 0xffe5)
    apply_actions = struct.pack("!HH4x", ofproto_v1_3.OFPIT_APPLY_ACTIONS, 8 + len(output))
    outcome = parse_within(flow_stats_reply(apply_actions + output), 2.0)
    stats = outcome["msg"].body[0]
    assert stats.priority == 100 and stats.instructions[0].actions[0].port == 2


@pytest.mark.parametrize("instruction", [
    struct.pack("!HH4x", ofproto_v1_3.OFPIT_APPLY_ACTIONS, 0),
    struct.pack("!HH4x", ofproto_v1_3.OFPIT_APPLY_ACTIONS, 16) + struct.pack(
        "!HH4x", ofproto_v1_3.OFPAT_OUTPUT, 0),
], ids=["zero-length instruction", "zero-length action"])
def test_a_zero_length_element_is_dropped_with_a_log_not_looped_on(instruction, caplog):
    outcome = parse_within(flow_stats_reply(instruction), 2.0)
    # Ryu's parser logs the error and drops the message; the connection goes on.
    assert outcome == {"msg": None}
    assert "malformed OpenFlow packet" in caplog.text


# Every other list Ryu walks by its elements' own length fields, each with an element of
# length 0, as a fake switch sends them (controller/lab/fake_switch.py); before the hardening
# each of these froze a real ryu-manager.
LENGTH_ZERO = ["flow stats entry of length 0", "group stats entry of length 0",
               "group bucket of length 0", "table feature property of length 0",
               "queue of length 0", "queue property of length 0",
               "hello element of length 0 (before the handshake)"]


@pytest.mark.parametrize("kind", LENGTH_ZERO)
def test_an_element_of_length_zero_is_dropped_not_looped_on(kind, caplog):
    from controller.lab.fake_switch import MALFORMED

    build, _ = MALFORMED[kind]
    outcome = parse_within(build(7), 2.0)
    assert outcome == {"msg": None}
    assert "malformed OpenFlow" in caplog.text


def _multipart_reply(mp_type: int, body: bytes) -> bytes:
    body = struct.pack("!HH4x", mp_type, 0) + body
    return struct.pack("!BBHI", ofproto_v1_3.OFP_VERSION, ofproto_v1_3.OFPT_MULTIPART_REPLY,
                       8 + len(body), 9) + body


def test_well_formed_groups_and_a_hello_with_a_version_bitmap_still_parse():
    output = struct.pack("!HHIH6x", ofproto_v1_3.OFPAT_OUTPUT, 16, 3, 0xffe5)
    bucket = struct.pack("!HHII4x", 16 + len(output), 250, 0xffffffff, 0xffffffff) + output
    entry = struct.pack("!HBxI", 8 + 2 * len(bucket), ofproto_v1_3.OFPGT_SELECT, 4) + bucket + bucket
    (desc,) = parse_within(_multipart_reply(ofproto_v1_3.OFPMP_GROUP_DESC, entry), 2.0)["msg"].body
    assert desc.group_id == 4 and [b.weight for b in desc.buckets] == [250, 250]
    assert desc.buckets[1].actions[0].port == 3
    stats = struct.pack("!H2xII4xQQII", 40 + 16, 4, 1, 10, 1500, 3, 0) + struct.pack("!QQ", 10, 1500)
    (group,) = parse_within(_multipart_reply(ofproto_v1_3.OFPMP_GROUP, stats), 2.0)["msg"].body
    assert group.group_id == 4 and group.bucket_stats[0].byte_count == 1500
    element = struct.pack("!HHI", ofproto_v1_3.OFPHET_VERSIONBITMAP, 8, 1 << 4)
    hello = struct.pack("!BBHI", 4, ofproto_v1_3.OFPT_HELLO, 8 + len(element), 1) + element
    assert parse_within(hello, 2.0)["msg"].elements[0].versions == [4]
