"""The OpenFlow channel against a real ryu-manager (no root, no Open vSwitch): raw OpenFlow
clients posing as switches connect over TLS with certificates from controller.lab.tls; a second
connection for a connected dpid is refused while the first answers echo; a plain-TCP client and
a TLS client without a certificate get no HELLO."""
from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from controller.lab.fake_switch import FakeSwitch
from controller.lab.tls import make_tls_files

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def controller(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    files = make_tls_files(folder)
    conf = folder / "q.conf"
    conf.write_text("[qroute]\napi_token = t0ken\n")
    of_port, rest_port = _free_port(), _free_port()
    log = open(folder / "controller.txt", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "controller.launcher", "--ofp-ssl-listen-port", str(of_port),
         *files.ryu_arguments(), "--wsapi-port", str(rest_port), "--config-file", str(conf)],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=log, stderr=subprocess.STDOUT)

    def rest(part="state"):
        with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/qroute/v1/{part}", timeout=5) as r:
            return json.loads(r.read())

    deadline = time.monotonic() + 30
    while True:
        try:
            rest("switches")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "controller.txt").read_text()[-2000:]) from None
            time.sleep(0.2)
    switch_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    switch_tls.check_hostname = False
    switch_tls.load_verify_locations(files.ca_cert)
    switch_tls.load_cert_chain(files.switch_cert, files.switch_key)
    yield of_port, rest, switch_tls, files
    process.terminate()
    process.wait(timeout=10)


def wait_for(condition, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def hello_answered(sock) -> bool:
    sock.settimeout(3)
    try:
        sock.sendall(bytes([4, 0, 0, 8, 0, 0, 0, 1]))
        reply = sock.recv(8)
    except (OSError, ssl.SSLError):
        return False
    return len(reply) == 8 and reply[:2] == bytes([4, 0])


def test_switches_connect_over_tls_and_a_second_connection_for_a_dpid_is_refused(controller):
    of_port, rest, switch_tls, _ = controller
    first = FakeSwitch(of_port, 11, tls=switch_tls).start()
    other = FakeSwitch(of_port, 12, tls=switch_tls).start()
    try:
        assert wait_for(lambda: rest("switches") == [11, 12])  # more than one TLS connection
        intruder = FakeSwitch(of_port, 11, tls=switch_tls).start()
        assert wait_for(lambda: intruder.closed_at is not None)
        assert intruder.closed_at - intruder.opened_at < 2.0
        time.sleep(0.5)
        assert first.closed_at is None and rest("switches") == [11, 12]
        edge = rest("state")["edge"]
        assert edge["dpid_takeovers_refused"] == 1 and edge["recent_takeovers_refused"][0]["dpid"] == 11
        assert wait_for(lambda: first.echoes >= 1, timeout=5)  # Ryu keeps asking the holder
    finally:
        first.close()
        other.close()
    # the holder gone, a newcomer for its dpid is let in
    assert wait_for(lambda: 11 not in rest("switches"))
    newcomer = FakeSwitch(of_port, 11, tls=switch_tls).start()
    try:
        assert wait_for(lambda: 11 in rest("switches")) and newcomer.closed_at is None
    finally:
        newcomer.close()


def test_plain_tcp_and_tls_without_a_certificate_get_no_hello(controller):
    of_port, _, _, files = controller
    with socket.create_connection(("127.0.0.1", of_port), timeout=5) as plain:
        assert not hello_answered(plain)
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.check_hostname = False
    anonymous.load_verify_locations(files.ca_cert)
    with socket.create_connection(("127.0.0.1", of_port), timeout=5) as raw:
        try:
            sock = anonymous.wrap_socket(raw)
        except (ssl.SSLError, OSError):
            return  # refused in the handshake
        with sock:
            assert not hello_answered(sock)
