"""Silent link death for the lab: every frame arriving at an interface is dropped while its
carrier stays up, so no port goes down and no port-status is sent; only BFD or LLDP can tell.

The kernels the lab runs on may lack netem and tc classifiers, and Open vSwitch's userspace
datapath reads frames through packet sockets, which see a frame before tc ingress and
netfilter would; a generic XDP program runs before them. The program is two eBPF
instructions (return XDP_DROP), loaded with the bpf() system call, pinned in the BPF file
system and attached with `ip link ... xdpgeneric pinned`. Needs root.
"""
from __future__ import annotations

import ctypes
import os
import struct
import subprocess

BPF_FS = "/sys/fs/bpf"
PINNED = os.path.join(BPF_FS, "qroute_xdp_drop")
_SYS_BPF = {"x86_64": 321, "aarch64": 280}
_BPF_PROG_LOAD, _BPF_OBJ_PIN = 5, 6
_BPF_PROG_TYPE_XDP = 6
_XDP_DROP = 1
_ATTR_SIZE = 128


def _bpf(command: int, attr: bytes) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(attr.ljust(_ATTR_SIZE, b"\0"), _ATTR_SIZE)
    result = libc.syscall(_SYS_BPF[os.uname().machine], command, buffer, _ATTR_SIZE)
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"bpf({command}): {os.strerror(error)}")
    return result


def drop_program() -> str:
    """The pinned drop-everything XDP program's path (loaded and pinned on first use)."""
    if os.path.exists(PINNED):
        return PINNED
    if not os.path.ismount(BPF_FS):
        os.makedirs(BPF_FS, exist_ok=True)
        subprocess.run(["mount", "-t", "bpf", "bpf", BPF_FS], check=True)
    # r0 = XDP_DROP; exit
    code = ctypes.create_string_buffer(struct.pack("<BBhi", 0xB7, 0, 0, _XDP_DROP)
                                       + struct.pack("<BBhi", 0x95, 0, 0, 0))
    licence = ctypes.create_string_buffer(b"GPL")
    fd = _bpf(_BPF_PROG_LOAD, struct.pack("<IIQQIIQ", _BPF_PROG_TYPE_XDP, 2,
                                          ctypes.addressof(code), ctypes.addressof(licence),
                                          0, 0, 0))
    try:
        path = ctypes.create_string_buffer(PINNED.encode())
        _bpf(_BPF_OBJ_PIN, struct.pack("<QI", ctypes.addressof(path), fd))
    finally:
        os.close(fd)
    return PINNED


def set_silent(*interfaces: str, silent: bool = True) -> None:
    """Drop every frame the interfaces receive (their carriers stay up), or stop dropping;
    all at once (one `ip` process each, started together: both ends of a link go quiet within
    a millisecond or two rather than one `ip` run apart)."""
    program = drop_program() if silent else None
    processes = [subprocess.Popen(["ip", "link", "set", "dev", name, "xdpgeneric",
                                   *(["pinned", program] if silent else ["off"])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for name in interfaces]
    for name, process in zip(interfaces, processes):
        _, error = process.communicate()
        if process.returncode:
            raise RuntimeError(f"xdp on {name}: {error.decode(errors='replace').strip()}")
