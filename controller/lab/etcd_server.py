"""A throwaway etcd server (Debian's etcd-server) on loopback, for `qroute lab ha` and tests."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EtcdServer:
    """``with EtcdServer() as etcd: etcd.client()``; its data lives in a temporary directory
    removed on exit."""

    def __init__(self, binary: str = "etcd"):
        self.binary = shutil.which(binary)
        if self.binary is None:
            raise FileNotFoundError("etcd is not installed (Debian's etcd-server; make install adds it)")
        self.port, self.peer_port = _free_port(), _free_port()
        self.process: subprocess.Popen | None = None
        self.data_dir = ""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout_s: float = 15.0) -> None:
        self.data_dir = tempfile.mkdtemp(prefix="qroute-etcd-")
        client_url, peer_url = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.peer_port}"
        self.process = subprocess.Popen(
            [self.binary, "--name", "qroute", "--data-dir", self.data_dir,
             "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
             "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
             "--initial-cluster", f"qroute={peer_url}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.process.returncode}")
            try:
                self.client().status()
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"etcd did not answer on port {self.port} within {timeout_s} s")

    def client(self, timeout: float = 2.0):
        from etcd3gw.client import Etcd3Client

        return Etcd3Client(host="127.0.0.1", port=self.port, timeout=timeout)

    def pause(self) -> None:
        """Stop answering (SIGSTOP), as an unreachable etcd would."""
        self.process.send_signal(19)

    def resume(self) -> None:
        self.process.send_signal(18)

    def stop(self) -> None:
        if self.process is not None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = ""
