"""Make Ryu 4.34 importable on Python 3.11 with eventlet 0.33 (no socket monkey-patching here)."""
import struct


def patch_eventlet() -> None:
    import eventlet.wsgi

    if not hasattr(eventlet.wsgi, "ALREADY_HANDLED"):
        # ryu.app.wsgi imports this name, which eventlet 0.31 removed. A list, not an object:
        # eventlet iterates it on websocket routes.
        eventlet.wsgi.ALREADY_HANDLED = []


def harden_openflow13_parser() -> None:
    """Reject zero-length instructions and actions instead of looping on them forever.

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
