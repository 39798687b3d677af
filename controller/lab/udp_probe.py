"""A probe stream that never pauses, for measuring outages to the millisecond.

ping is the wrong instrument at 1,000 probes a second: while its replies are missing it slows
to about one probe per 10 ms, and a ping process the scheduler holds back leaves a gap between
replies that the network did not cause; both make an outage read longer than it was. Here the
sender sends sequence number n at start + n / rate whatever comes back (late sends still go, and
their real send times are recorded), a reflector on the far host echoes each datagram, and the
outage is read from the sequence numbers: the longest run of consecutive probes that did not
come back, from the first one's send time to the last one's plus one interval.

Run in a Mininet host (stdlib only): ``python -m controller.lab.udp_probe echo PORT`` and
``python -m controller.lab.udp_probe send HOST PORT RATE SECONDS OUT.json``.
"""
from __future__ import annotations

import dataclasses
import json
import socket
import struct
import sys
import threading
import time

PROBE_PORT = 9_999
_SEQ = struct.Struct("!I")
_DRAIN_S = 0.6  # replies still in flight after the last send (well above any RTT in the lab)


@dataclasses.dataclass(frozen=True)
class LossRun:
    first: int        # sequence number of the first probe of the run
    count: int        # consecutive probes lost
    began_at: float   # the first lost probe's send time (unix seconds)
    span_ms: float    # first lost send to last lost send, plus one interval


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    sent_at: list[float]      # send time of each sequence number
    received: frozenset[int]  # sequence numbers whose echo came back
    interval_s: float

    @property
    def lost(self) -> int:
        return len(self.sent_at) - len(self.received)

    def loss_runs(self) -> list[LossRun]:
        runs, start = [], None
        for seq in range(len(self.sent_at) + 1):
            missing = seq < len(self.sent_at) and seq not in self.received
            if missing and start is None:
                start = seq
            elif not missing and start is not None:
                last = seq - 1
                span = (self.sent_at[last] - self.sent_at[start]) * 1000 + self.interval_s * 1000
                runs.append(LossRun(start, seq - start, self.sent_at[start], round(span, 1)))
                start = None
        return runs

    def outage_ms(self) -> float:
        """The longest loss run's span (0 when nothing was lost)."""
        return max((run.span_ms for run in self.loss_runs()), default=0.0)

    def longest_run(self) -> LossRun | None:
        return max(self.loss_runs(), key=lambda run: run.span_ms, default=None)


def read_result(path: str, interval_s: float) -> ProbeResult:
    with open(path) as handle:
        raw = json.load(handle)
    return ProbeResult(sent_at=[float(t) for t in raw["sent_at"]],
                       received=frozenset(int(seq) for seq in raw["received"]), interval_s=interval_s)


def echo(port: int) -> None:
    reflector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reflector.bind(("0.0.0.0", port))
    print("ready", flush=True)  # the starter waits for this line before any probe goes
    while True:
        data, peer = reflector.recvfrom(64)
        reflector.sendto(data, peer)


def send(host: str, port: int, rate: float, seconds: float, out: str) -> None:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.connect((host, port))
    sender.settimeout(0.1)
    count = int(rate * seconds)
    sent_at, received, done = [0.0] * count, set(), threading.Event()

    def receive():
        while not done.is_set():
            try:
                data = sender.recv(64)
            except socket.timeout:
                continue
            except ConnectionRefusedError:  # an ICMP port-unreachable: the reflector is not up yet
                continue
            received.add(_SEQ.unpack(data[:_SEQ.size])[0])

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    start = time.time()
    print("sending", flush=True)
    for seq in range(count):
        due = start + seq / rate
        while (wait := due - time.time()) > 0:
            time.sleep(wait if wait < 0.0005 else wait - 0.0003)
        sent_at[seq] = time.time()
        try:
            sender.send(_SEQ.pack(seq))
        except ConnectionRefusedError:
            pass  # an earlier probe's port-unreachable surfaced here: this probe is still counted
    time.sleep(_DRAIN_S)
    done.set()
    receiver.join()
    with open(out, "w") as handle:
        json.dump({"sent_at": sent_at, "received": sorted(received)}, handle)


def main(argv: list[str]) -> int:
    if argv[:1] == ["echo"] and len(argv) == 2:
        echo(int(argv[1]))
    elif argv[:1] == ["send"] and len(argv) == 6:
        send(argv[1], int(argv[2]), float(argv[3]), float(argv[4]), argv[5])
    else:
        print(__doc__.strip().splitlines()[-2:], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
