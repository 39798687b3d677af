"""Make Ryu 4.34 importable on Python 3.11 with eventlet 0.33 (no socket monkey-patching here)."""
import struct


def patch_eventlet() -> None:
    import eventlet.wsgi

    if not hasattr(eventlet.wsgi, "ALREADY_HANDLED"):
        # ryu.app.wsgi imports this name, which eventlet 0.31 removed. A list, not an object:
        # eventlet iterates it on websocket routes.
        eventlet.wsgi.ALREADY_HANDLED = []


def harden_openflow13_parser() -> None:
    """Reject zero-length instructions and actions (and the other elements below) instead of
    looping on them forever.

    Ryu 4.34 walks an instruction or action list by subtracting each element's length from
    what is left; an element of length 0 (one malformed flow-stats reply is enough) sends the
    switch's receive loop into an endless loop that freezes the whole controller. Raising
    instead makes Ryu's message parser log the message (with a hex dump) and drop it; the
    switch's connection stays up.
    """
    from ryu.ofproto import ofproto_v1_3 as ofp
    from ryu.ofproto import ofproto_v1_3_parser as parser

    for base, minimum, header in ((parser.OFPInstruction, 4, "!HH"),
                                  (parser.OFPAction, ofp.OFP_ACTION_HEADER_SIZE,
                                   ofp.OFP_ACTION_HEADER_PACK_STR)):
        original = base.__dict__["parser"].__func__
        if getattr(original, "_qroute_hardened", False):
            continue

        def checked(cls, buf, offset, _original=original, _minimum=minimum, _header=header,
                    _kind=base.__name__):
            _, length = struct.unpack_from(_header, buf, offset)
            if length < _minimum:
                raise ValueError(f"malformed OpenFlow message: {_kind} of length {length} "
                                 f"at offset {offset}")
            return _original(cls, buf, offset)

        checked._qroute_hardened = True
        base.parser = classmethod(checked)
    _harden_length_fields(ofp, parser)


def _refuse(kind: str, length: int, offset: int):
    raise ValueError(f"malformed OpenFlow message: {kind} of length {length} at offset {offset}")


def _wrap(cls, name: str, check) -> None:
    """Run ``check(cls, buf, offset, *rest)`` before ``cls.<name>`` (a classmethod) parses."""
    original = cls.__dict__[name].__func__
    if getattr(original, "_qroute_hardened", False):
        return

    def checked(klass, buf, *args, _original=original):
        check(klass, buf, *args)
        return _original(klass, buf, *args)

    checked._qroute_hardened = True
    setattr(cls, name, classmethod(checked))


def _harden_length_fields(ofp, parser) -> None:
    """The other lists Ryu 4.34 walks by each element's own length field, so that an element of
    length 0 (a flow stats or group stats entry, a group bucket, a table-feature property, a
    queue or queue property, a hello element) loops forever as above: each is refused when its
    length is below its header's size (found by sending every kind from a fake switch, see
    controller/lab/fake_switch.py)."""
    def length_at(pack: str, field: int, minimum: int, kind: str):
        def check(klass, buf, offset=0, *rest):
            length = struct.unpack_from(pack, buf, offset)[field]
            if length < minimum:
                _refuse(kind, length, offset)
        return check

    # multipart reply entries: each body class's entries start with a 16-bit length, except the
    # fixed-size ones (Ryu sets their length itself) and the single-struct bodies
    variable = {parser.OFPFlowStats: ("!H", 0, ofp.OFP_FLOW_STATS_SIZE),
                parser.OFPGroupStats: ("!H", 0, ofp.OFP_GROUP_STATS_SIZE),
                parser.OFPGroupDescStats: ("!H", 0, ofp.OFP_GROUP_DESC_STATS_SIZE),
                parser.OFPMeterStats: ("!IH", 1, ofp.OFP_METER_STATS_SIZE),
                parser.OFPMeterConfigStats: ("!H", 0, ofp.OFP_METER_CONFIG_SIZE),
                parser.OFPTableFeaturesStats: ("!H", 0, ofp.OFP_TABLE_FEATURES_SIZE)}
    for body, (pack, field, minimum) in variable.items():
        _wrap(body, "parser", length_at(pack, field, minimum, body.__name__))
    _wrap(parser.OFPBucket, "parser", length_at("!H", 0, ofp.OFP_BUCKET_SIZE, "OFPBucket"))
    _wrap(parser.OFPPacketQueue, "parser", length_at("!IIH", 2, ofp.OFP_PACKET_QUEUE_SIZE, "OFPPacketQueue"))
    _wrap(parser.OFPQueueProp, "parser",
          length_at("!HH", 1, ofp.OFP_QUEUE_PROP_HEADER_SIZE, "OFPQueueProp"))
    _wrap(parser.OFPPropBase, "parse", length_at("!HH", 1, 4, "property"))

    def hello_elements(klass, buf, *args):
        offset, end = ofp.OFP_HELLO_HEADER_SIZE, struct.unpack_from("!H", buf, 2)[0]
        while offset + ofp.OFP_HELLO_ELEM_HEADER_SIZE <= min(end, len(buf)):
            _, length = struct.unpack_from(ofp.OFP_HELLO_ELEM_HEADER_PACK_STR, buf, offset)
            if length < ofp.OFP_HELLO_ELEM_HEADER_SIZE:
                _refuse("hello element", length, offset)
            offset += length

    original = parser.OFPHello.__dict__["parser"].__func__
    if not getattr(original, "_qroute_hardened", False):
        def hello(cls, datapath, version, msg_type, msg_len, xid, buf, _original=original):
            hello_elements(cls, buf)
            return _original(cls, datapath, version, msg_type, msg_len, xid, buf)

        hello._qroute_hardened = True
        parser.OFPHello.parser = classmethod(hello)
        # message parsers are looked up in a table filled at import time
        parser._MSG_PARSERS[ofp.OFPT_HELLO] = parser.OFPHello.parser
