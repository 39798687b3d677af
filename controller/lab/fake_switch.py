"""A process posing as a switch: a raw OpenFlow 1.3 client that claims any dpid (no root, no
Open vSwitch), for checking what the controller does with a second connection for a dpid."""
from __future__ import annotations

import socket
import struct
import threading
import time


class FakeSwitch:
    """A raw OpenFlow 1.3 client claiming `dpid`: HELLO, FEATURES_REPLY, empty port
    description, echo and barrier replies. `closed_at`: when the controller closed it."""

    def __init__(self, port: int, dpid: int, tls=None):
        """`tls`: an ssl.SSLContext to connect with (the channel over TLS)."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock)
        self.dpid = dpid
        self.opened_at = time.monotonic()
        self.closed_at: float | None = None
        self.echoes = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _send(self, kind: int, xid: int, body: bytes = b"") -> None:
        self.sock.sendall(struct.pack("!BBHI", 4, kind, 8 + len(body), xid) + body)

    def _run(self) -> None:
        self._send(0, 1)
        buffer = b""
        self.sock.settimeout(0.5)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                self.closed_at = time.monotonic()
                return
            buffer += chunk
            while len(buffer) >= 8:
                _, kind, length, xid = struct.unpack_from("!BBHI", buffer)
                if length < 8 or len(buffer) < length:
                    break
                body, buffer = buffer[8:length], buffer[length:]
                if kind == 5:  # FEATURES_REQUEST
                    self._send(6, xid, struct.pack("!QIBB2xII", self.dpid, 0, 2, 0, 0, 0))
                elif kind == 2:  # ECHO_REQUEST
                    self.echoes += 1
                    self._send(3, xid, body)
                elif kind == 18:  # MULTIPART_REQUEST: an empty last reply of its type
                    self._send(19, xid, body[:2] + b"\x00\x00" + bytes(4))
                elif kind == 20:  # BARRIER_REQUEST
                    self._send(21, xid)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
