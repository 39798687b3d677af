"""Certificates for an OpenFlow channel over TLS, made with the openssl command (Debian's
openssl package, which Open vSwitch already depends on): a CA, the controller's certificate and
key, and one certificate for the switches, all signed by the CA. Ryu is started with
``--ctl-privkey/--ctl-cert/--ca-certs`` (it then asks every switch for a certificate the CA
signed) and Open vSwitch with ``ovs-vsctl set-ssl <key> <cert> <ca cert>``, so each side checks
the other against the same CA.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = 30


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    controller_key: Path
    controller_cert: Path
    switch_key: Path
    switch_cert: Path

    def ryu_arguments(self) -> list[str]:
        return ["--ctl-privkey", str(self.controller_key), "--ctl-cert", str(self.controller_cert),
                "--ca-certs", str(self.ca_cert)]

    def ovs_set_ssl(self) -> list[str]:
        return ["ovs-vsctl", "set-ssl", str(self.switch_key), str(self.switch_cert), str(self.ca_cert)]


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, text=True)


def _signed(folder: Path, name: str, subject: str, ca_key: Path, ca_cert: Path) -> tuple[Path, Path]:
    key, request, cert = folder / f"{name}-key.pem", folder / f"{name}.csr", folder / f"{name}-cert.pem"
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-subj", subject, "-out", str(request))
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", str(DAYS), "-sha256", "-out", str(cert))
    request.unlink()
    key.chmod(0o600)
    return key, cert


def make_tls_files(folder: str | Path) -> TlsFiles:
    """A fresh CA in `folder` and, signed by it, the controller's and the switches' keys and
    certificates."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = folder / "ca-key.pem", folder / "ca-cert.pem"
    _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(ca_key), "-subj", "/CN=qroute lab CA", "-days", str(DAYS),
             "-sha256", "-out", str(ca_cert))
    ca_key.chmod(0o600)
    controller_key, controller_cert = _signed(folder, "controller", "/CN=qroute controller",
                                              ca_key, ca_cert)
    switch_key, switch_cert = _signed(folder, "switch", "/CN=qroute switch", ca_key, ca_cert)
    return TlsFiles(ca_cert, controller_key, controller_cert, switch_key, switch_cert)
