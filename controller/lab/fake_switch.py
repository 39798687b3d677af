"""A fake OpenFlow 1.3 switch over plain TCP, and the malformed messages it can send: what a
buggy or hostile local process can throw at the controller's OpenFlow port (no root needed).

:class:`FakeSwitch` does the handshake (hello, features reply, empty port description) and
answers echo, barrier and multipart requests from a thread, so that the controller keeps it
connected, over TLS when given a context (a process posing as a switch that claims any dpid);
:data:`MALFORMED` lists the malformed messages by name, each built by a function of
the xid to use.
"""
from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

OFP_VERSION = 0x04
OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 1, 2, 3
OFPT_FEATURES_REQUEST, OFPT_FEATURES_REPLY = 5, 6
OFPT_PACKET_IN, OFPT_FLOW_MOD = 10, 14
OFPT_MULTIPART_REQUEST, OFPT_MULTIPART_REPLY = 18, 19
OFPT_BARRIER_REQUEST, OFPT_BARRIER_REPLY = 20, 21
OFPT_QUEUE_GET_CONFIG_REPLY = 23
OFPMP_FLOW, OFPMP_GROUP, OFPMP_GROUP_DESC, OFPMP_METER_CONFIG, OFPMP_TABLE_FEATURES = 1, 6, 7, 10, 12
OFPMP_PORT_DESC = 13
OFPIT_APPLY_ACTIONS, OFPAT_OUTPUT = 4, 0
HEADER = struct.Struct("!BBHI")


def header(msg_type: int, length: int, xid: int, version: int = OFP_VERSION) -> bytes:
    return HEADER.pack(version, msg_type, length, xid)


def message(msg_type: int, body: bytes, xid: int) -> bytes:
    return header(msg_type, 8 + len(body), xid) + body


def hello(xid: int = 1) -> bytes:
    return message(OFPT_HELLO, b"", xid)


def features_reply(dpid: int, xid: int) -> bytes:
    return message(OFPT_FEATURES_REPLY, struct.pack("!QIBB2xII", dpid, 0, 254, 0, 0, 0), xid)


def multipart_reply(mp_type: int, body: bytes, xid: int) -> bytes:
    return message(OFPT_MULTIPART_REPLY, struct.pack("!HH4x", mp_type, 0) + body, xid)


EMPTY_MATCH = struct.pack("!HH4x", 1, 4)  # an OXM match with no fields, padded to 8 bytes


def _flow_stats_entry(instructions: bytes, length: int | None = None) -> bytes:
    body = struct.pack("!BxIIHHHH4xQQQ", 0, 1, 0, 100, 0, 0, 0, 1, 10, 1000) + EMPTY_MATCH + instructions
    return struct.pack("!H", 2 + len(body) if length is None else length) + body


# --- malformed messages --------------------------------------------------------------------
def _length_zero(xid):
    return header(OFPT_ECHO_REQUEST, 0, xid)


def _short_header(xid):
    return header(OFPT_ECHO_REQUEST, 8, xid)[:5]


def _oversize_length(xid):
    return header(OFPT_PACKET_IN, 0xFFFF, xid) + bytes(100)


def _truncated_packet_in(xid):
    return message(OFPT_PACKET_IN, struct.pack("!IHBB", 0xFFFFFFFF, 60, 0, 0), xid)  # no cookie, no match


def _zero_length_instruction(xid):
    return multipart_reply(OFPMP_FLOW, _flow_stats_entry(struct.pack("!HH4x", OFPIT_APPLY_ACTIONS, 0)), xid)


def _zero_length_action(xid):
    instruction = struct.pack("!HH4x", OFPIT_APPLY_ACTIONS, 16) + struct.pack("!HH4x", OFPAT_OUTPUT, 0)
    return multipart_reply(OFPMP_FLOW, _flow_stats_entry(instruction), xid)


def _flow_mod_zero_length_instruction(xid):
    body = struct.pack("!QQBBHHHIIIH2x", 0, 0, 0, 0, 0, 0, 100, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return message(OFPT_FLOW_MOD, body + EMPTY_MATCH + struct.pack("!HH4x", OFPIT_APPLY_ACTIONS, 0), xid)


def _packet_in_zero_length_match(xid):
    body = struct.pack("!IHBBQ", 0xFFFFFFFF, 14, 0, 0, 0) + struct.pack("!HH4x", 1, 0) + bytes(2) + bytes(14)
    return message(OFPT_PACKET_IN, body, xid)


def _flow_stats_entry_of_length_zero(xid):
    return multipart_reply(OFPMP_FLOW, _flow_stats_entry(b"", length=0), xid)


def _group_stats_entry_of_length_zero(xid):
    return multipart_reply(OFPMP_GROUP, struct.pack("!H2xII4xQQII", 0, 2, 1, 0, 0, 0, 0), xid)


def _group_desc_bucket_of_length_zero(xid):
    bucket = struct.pack("!HHII4x", 0, 1, 0xFFFFFFFF, 0xFFFFFFFF)
    entry = struct.pack("!HBxI", 8 + len(bucket), 1, 2) + bucket
    return multipart_reply(OFPMP_GROUP_DESC, entry, xid)


def _meter_band_of_length_zero(xid):
    band = struct.pack("!HHII4x", 1, 0, 1000, 10)
    entry = struct.pack("!HHI", 8 + len(band), 0, 1) + band
    return multipart_reply(OFPMP_METER_CONFIG, entry, xid)


def _table_feature_property_of_length_zero(xid):
    prop = struct.pack("!HH4x", 0, 0)
    entry = struct.pack("!HB5x32sQQII", 64 + len(prop), 0, b"t0", 0, 0, 0, 1000) + prop
    return multipart_reply(OFPMP_TABLE_FEATURES, entry, xid)


def _queue_of_length_zero(xid):
    return message(OFPT_QUEUE_GET_CONFIG_REPLY, struct.pack("!I4x", 1) + struct.pack("!IIH6x", 1, 1, 0), xid)


def _queue_property_of_length_zero(xid):
    prop = struct.pack("!HH4x", 1, 0) + struct.pack("!H6x", 100)  # a minimum-rate property
    queue = struct.pack("!IIH6x", 1, 1, 16 + len(prop)) + prop
    return message(OFPT_QUEUE_GET_CONFIG_REPLY, struct.pack("!I4x", 1) + queue, xid)


def _hello_element_of_length_zero(xid):
    return message(OFPT_HELLO, struct.pack("!HH", 1, 0), xid)


def _garbage(xid):
    return bytes((xid * 37 + i * 101) & 0xFF for i in range(64))


def _unknown_version(xid):
    return header(OFPT_ECHO_REQUEST, 8, xid, version=0x7F)


# name -> (bytes, whether it is sent before the handshake instead of after it)
MALFORMED: dict[str, tuple[Callable[[int], bytes], bool]] = {
    "length 0": (_length_zero, False),
    "short header, then close": (_short_header, False),
    "oversize length, then close": (_oversize_length, False),
    "truncated packet-in body": (_truncated_packet_in, False),
    "zero-length instruction (flow stats)": (_zero_length_instruction, False),
    "zero-length action (flow stats)": (_zero_length_action, False),
    "flow mod with a zero-length instruction": (_flow_mod_zero_length_instruction, False),
    "packet-in with a zero-length match": (_packet_in_zero_length_match, False),
    "flow stats entry of length 0": (_flow_stats_entry_of_length_zero, False),
    "group stats entry of length 0": (_group_stats_entry_of_length_zero, False),
    "group bucket of length 0": (_group_desc_bucket_of_length_zero, False),
    "meter band of length 0": (_meter_band_of_length_zero, False),
    "table feature property of length 0": (_table_feature_property_of_length_zero, False),
    "queue of length 0": (_queue_of_length_zero, False),
    "queue property of length 0": (_queue_property_of_length_zero, False),
    "hello element of length 0 (before the handshake)": (_hello_element_of_length_zero, True),
    "garbage after hello": (_garbage, True),
    "unknown version": (_unknown_version, True),
}


# --- the switch ----------------------------------------------------------------------------
class FakeSwitch:
    """One TCP connection to the controller's OpenFlow port, acting as switch ``dpid``."""

    def __init__(self, port: int, dpid: int, host: str = "127.0.0.1", timeout: float = 5.0,
                 tls=None):
        """`tls`: an ssl.SSLContext to connect with (the channel over TLS)."""
        self.dpid = dpid
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock)
        self.opened_at = time.monotonic()
        self.closed_at: float | None = None  # when the controller closed the connection
        self.received: list[tuple[int, int]] = []  # (type, xid) of every message the controller sent
        self.closed = threading.Event()
        self.featured = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._echo_xid = 0

    def send(self, data: bytes) -> None:
        with self._lock:
            self.sock.sendall(data)

    def start(self, before_handshake: bytes = b"") -> FakeSwitch:
        """Send hello (and ``before_handshake`` right after it), then answer the controller
        from a thread."""
        self.send(hello() + before_handshake)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def handshake(self, timeout: float = 5.0) -> bool:
        """Whether the controller asked for the features and got them within ``timeout``."""
        return self.featured.wait(timeout)

    @property
    def echoes(self) -> int:
        """Echo requests the controller sent (it keeps asking a switch it serves)."""
        return sum(1 for msg_type, _ in self.received if msg_type == OFPT_ECHO_REQUEST)

    def ping(self, timeout: float = 2.0) -> float | None:
        """Seconds until the controller answers an echo request from this switch (None: no
        answer within ``timeout``): its connection is being served."""
        self._echo_xid += 1
        xid = 0x7E000000 + self._echo_xid
        started = time.monotonic()
        try:
            self.send(message(OFPT_ECHO_REQUEST, b"qroute", xid))
        except OSError:
            return None
        if wait_for(lambda: (OFPT_ECHO_REPLY, xid) in self.received, timeout, step=0.005):
            return time.monotonic() - started
        return None

    def _serve(self) -> None:
        buffer = b""
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except TimeoutError:  # an idle controller is not a closed one
                    continue
                if not chunk:
                    break
                buffer += chunk
                while len(buffer) >= 8:
                    _, msg_type, length, xid = HEADER.unpack_from(buffer)
                    if length < 8 or len(buffer) < length:
                        break
                    body, buffer = buffer[8:length], buffer[length:]
                    self.received.append((msg_type, xid))
                    self._answer(msg_type, xid, body)
        except OSError:
            pass
        finally:
            self.closed_at = time.monotonic()
            self.closed.set()

    def _answer(self, msg_type: int, xid: int, body: bytes) -> None:
        if msg_type == OFPT_FEATURES_REQUEST:
            self.send(features_reply(self.dpid, xid))
            self.featured.set()
        elif msg_type == OFPT_ECHO_REQUEST:
            self.send(message(OFPT_ECHO_REPLY, body, xid))
        elif msg_type == OFPT_BARRIER_REQUEST:
            self.send(message(OFPT_BARRIER_REPLY, b"", xid))
        elif msg_type == OFPT_MULTIPART_REQUEST and len(body) >= 2:
            (mp_type,) = struct.unpack_from("!H", body)
            self.send(multipart_reply(mp_type, b"", xid))

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self._thread is not None:
            self._thread.join(2.0)


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
