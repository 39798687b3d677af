"""OpenFlow errors tied to what was sent: names from the specification's numbers, messages
described in qroute's terms, the record corrected so that a plan sends the refused entry again,
and the retry schedule of refused pairs."""
from __future__ import annotations

import struct

import pytest

from controller import of_errors, ofmsgs
from controller.tunnel_plan import plan_phases
from controller.tunnels import GROUP, PORT, Desired

MAC3 = "00:00:00:00:00:03"


# OpenFlow 1.3.5 section 7.5.4: type 5 is FLOW_MOD_FAILED, its code 1 TABLE_FULL; type 6 is
# GROUP_MOD_FAILED, code 0 GROUP_EXISTS; type 2 BAD_ACTION, code 9 BAD_OUT_GROUP.
@pytest.mark.parametrize("numbers, names", [
    ((5, 1), ("OFPET_FLOW_MOD_FAILED", "OFPFMFC_TABLE_FULL")),
    ((6, 0), ("OFPET_GROUP_MOD_FAILED", "OFPGMFC_GROUP_EXISTS")),
    ((2, 9), ("OFPET_BAD_ACTION", "OFPBAC_BAD_OUT_GROUP")),
    ((1, 1), ("OFPET_BAD_REQUEST", "OFPBRC_BAD_TYPE")),
    ((5, 99), ("OFPET_FLOW_MOD_FAILED", "code 99")),
    ((99, 1), ("type 99", "code 1")),
    ((0xFFFF, 3), ("OFPET_EXPERIMENTER", "experimenter code 3")),
])
def test_errors_are_named_as_openflow_names_them(numbers, names):
    assert of_errors.error_names(*numbers) == names


def test_the_request_echoed_in_an_error_is_named_by_its_header():
    # a flow mod (type 14) with xid 77, as a switch echoes it
    assert of_errors.offending_header(struct.pack("!BBHI", 4, 14, 56, 77) + bytes(56)) == \
        "OFPT_FLOW_MOD xid 77"
    assert of_errors.offending_header(b"\x04\x0e") == ""


LABELS = {7: (1, 2, 3), 8: (3, 2, 1)}
SPLITS = {(1, 3): (((1, 2, 3), 1.0),), (2, 3): (((2, 3), 1.0),), (3, 1): (((3, 2, 1), 1.0),)}


@pytest.mark.parametrize("dpid, msg, expected", [
    (2, ofmsgs.tunnel_transit_rule(7, 3, epoch=4),
     (of_errors.TUNNEL, of_errors.ADD, (2, 7), ((1, 3),), "tunnel rule for label 7 (path 1-2-3) add")),
    (1, ofmsgs.tunnel_egress_rule(8), (of_errors.TUNNEL, of_errors.ADD, (1, 8), ((3, 1),), None)),
    (2, ofmsgs.delete_tunnel_rule(9), (of_errors.TUNNEL, of_errors.DELETE, (2, 9), (), None)),
    (1, ofmsgs.classify_to_group(MAC3, 3),
     (of_errors.CLASSIFY, of_errors.ADD, (1, MAC3), ((1, 3),), f"classify rule for {MAC3} into group 3 add")),
    (3, ofmsgs.classify_to_port(MAC3, 1), (of_errors.CLASSIFY, of_errors.ADD, (3, MAC3), (), None)),
    (3, ofmsgs.delivery_rule(MAC3, 1),
     (of_errors.DELIVERY, of_errors.ADD, (3, MAC3), ((1, 3), (2, 3)), None)),
    (1, ofmsgs.group_add(3, [(7, 1000, 2)]),
     (of_errors.GROUP, of_errors.ADD, (1, 3), ((1, 3),), "select group 3 (pair 1-3) add")),
    (1, ofmsgs.group_modify(3, [(7, 1000, 2)]), (of_errors.GROUP, of_errors.MODIFY, (1, 3), ((1, 3),), None)),
    (1, ofmsgs.group_delete(3), (of_errors.GROUP, of_errors.DELETE, (1, 3), ((1, 3),), None)),
    (1, ofmsgs.delete_all_groups(), (of_errors.GROUP, of_errors.DELETE, (), (), None)),
    (1, ofmsgs.base_rules()[0], (of_errors.OTHER, of_errors.ADD, (), (), None)),
    (1, ofmsgs.port_desc_request(), (of_errors.OTHER, "OFPPortDescStatsRequest", (), (), None)),
])
def test_a_sent_message_is_described_by_what_it_installs_and_for_which_pairs(dpid, msg, expected):
    sent = of_errors.describe_sent(dpid, msg, LABELS, SPLITS, epoch=4)
    kind, command, key, pairs, text = expected
    assert (sent.kind, sent.command, sent.key, sent.pairs, sent.epoch) == (kind, command, key, pairs, 4)
    if text:
        assert sent.text == text


def test_the_sent_log_keeps_the_latest_messages_of_each_switch():
    log = of_errors.SentLog(per_switch=3)
    for xid in range(1, 6):
        log.record(1, xid, of_errors.Sent(of_errors.OTHER, "x", text=f"m{xid}"))
    log.record(2, 1, of_errors.Sent(of_errors.OTHER, "x", text="other switch"))
    assert [log.lookup(1, xid) and log.lookup(1, xid).text for xid in range(1, 6)] == \
        [None, None, "m3", "m4", "m5"]
    assert log.lookup(2, 1).text == "other switch" and len(log) == 4
    log.forget_switch(1)
    assert log.lookup(1, 5) is None and len(log) == 1


# A record with pair (1, 3) over 1-2-3 (label 7) and the host behind 3.
RECORD = Desired(splits={(1, 3): (((1, 2, 3), 1.0),)}, labels={(1, 2, 3): 7},
                 tunnel_rules={(2, 7): 3, (3, 7): None}, groups={(1, 3): ((7, 1000, 2),)},
                 classify={(1, MAC3): (GROUP, 3), (3, MAC3): (PORT, 1)}, delivery={(3, MAC3): 1})


def _resent(record):
    """The messages the next plan sends to go from ``record`` back to RECORD, as words."""
    words = []
    for dpid, msg in plan_phases(record, RECORD, epoch=9).messages():
        sent = of_errors.describe_sent(dpid, msg, {7: (1, 2, 3)}, RECORD.splits, 9)
        words.append((dpid, sent.kind, sent.command, sent.key))
    return words


@pytest.mark.parametrize("refused, resent", [
    (ofmsgs.tunnel_transit_rule(7, 3), [(2, of_errors.TUNNEL, of_errors.ADD, (2, 7))]),
    (ofmsgs.classify_to_group(MAC3, 3), [(1, of_errors.CLASSIFY, of_errors.ADD, (1, MAC3))]),
    (ofmsgs.group_add(3, [(7, 1000, 2)]), [(1, of_errors.GROUP, of_errors.ADD, (1, 3))]),
    (ofmsgs.group_modify(3, [(7, 1000, 2)]), [(1, of_errors.GROUP, of_errors.MODIFY, (1, 3))]),
])
def test_what_a_switch_refused_is_sent_again_by_the_next_plan_and_nothing_else(refused, resent):
    dpid = resent[0][0]
    sent = of_errors.describe_sent(dpid, refused, {7: (1, 2, 3)}, RECORD.splits, 8)
    corrected = of_errors.forget_refused(RECORD, sent)
    assert corrected != RECORD
    assert _resent(corrected) == resent


def test_a_refused_delivery_rule_is_sent_again():
    sent = of_errors.describe_sent(3, ofmsgs.delivery_rule(MAC3, 1), {}, RECORD.splits, 8)
    assert _resent(of_errors.forget_refused(RECORD, sent)) == \
        [(3, of_errors.DELIVERY, of_errors.ADD, (3, MAC3))]


@pytest.mark.parametrize("msg", [ofmsgs.delete_tunnel_rule(7), ofmsgs.base_rules()[1],
                                 ofmsgs.port_desc_request()])
def test_refused_deletes_and_other_messages_leave_the_record(msg):
    sent = of_errors.describe_sent(2, msg, {7: (1, 2, 3)}, RECORD.splits, 8)
    assert of_errors.forget_refused(RECORD, sent) is RECORD


def test_a_refused_pair_falls_back_to_one_path_then_backs_off_then_is_given_up():
    refused = of_errors.RefusedPairs(max_retries=3, backoff_s=1.0)
    pair, other = (1, 3), (2, 3)
    wide = {pair: (((1, 2, 3), 0.5), ((1, 5, 4, 3), 0.5)), other: (((2, 3), 1.0),)}
    single = {pair: (((1, 2, 3), 1.0),)}
    assert refused.adjust(wide, single, 0.0) == wide  # nothing refused yet
    # decision 1's split is refused (twice: two of its rules; it counts once)
    assert refused.refused([pair], "table full", epoch=1, now=10.0) == [pair]
    assert refused.refused([pair], "table full", epoch=1, now=10.1) == []
    assert refused.next_retry(10.1) == 0.0
    assert refused.adjust(wide, single, 10.1) == {pair: single[pair], other: wide[other]}
    refused.sent([pair], epoch=2)
    assert refused.not_installed() == {} and refused.next_retry(10.2) is None
    # the single path (decision 2) is refused too: nothing for 1 s, then the single path again
    refused.refused([pair], "table full", epoch=2, now=11.0)
    assert refused.adjust(wide, single, 11.5) == {other: wide[other]}
    assert refused.next_retry(11.5) == pytest.approx(0.5)
    assert refused.adjust(wide, single, 12.0) == {pair: single[pair], other: wide[other]}
    refused.sent([pair], epoch=3)
    refused.refused([pair], "table full", epoch=3, now=12.0)   # third refusal: 2 s
    assert refused.adjust(wide, single, 13.9) == {other: wide[other]}
    assert refused.adjust(wide, single, 14.0)[pair] == single[pair]
    refused.sent([pair], epoch=4)
    refused.refused([pair], "table full", epoch=4, now=14.0)   # the single path's third refusal
    known = refused.not_installed()[pair]
    assert known.given_up and known.refusals == 4
    assert refused.adjust(wide, single, 1000.0) == {other: wide[other]}
    assert refused.next_retry(1000.0) is None
    refused.reset()
    assert refused.adjust(wide, single, 1000.0) == wide


def test_refused_pairs_of_hosts_gone_are_forgotten():
    refused = of_errors.RefusedPairs()
    refused.refused([(1, 3), (2, 3)], "table full", epoch=1, now=0.0)
    refused.keep_only([(2, 3)])
    assert list(refused.not_installed()) == [(2, 3)]
