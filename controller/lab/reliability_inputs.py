"""Reliability checks of bad input from outside the network: REST requests of every malformed
kind, and checkpoints that cannot be used. Each sets up its own lab (root) and returns a
:class:`~controller.lab.checks.CheckResult`; `qroute lab reliability` runs them.
"""
from __future__ import annotations

import http.client
import json
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path

from controller.lab.checks import CheckResult

# every route the controller serves, with a placeholder for a path argument
KNOWN_PATHS = ("/qroute/v1/state", "/qroute/v1/pairs", "/qroute/v1/links", "/qroute/v1/hosts",
               "/qroute/v1/switches", "/qroute/v1/pins", "/qroute/v1/pins/{pair}")
METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS")
# HTTP requests no client library would send: the server must answer or close, and go on
RAW_REQUESTS = (
    b"\x00\xff\xfe garbage\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /qroute/v1/state HTTP/9.9\r\n\r\n",
    b"GET /qroute/v1/state HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"PUT /qroute/v1/pins/1-2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"paths\"",
    b"PUT /qroute/v1/pins/1-2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /qroute/v1/state HTTP/1.1\r\n" + b"X-Long: " + b"b" * 70000 + b"\r\n\r\n",
    b"GET /qroute/v1/%ff%fe%00 HTTP/1.1\r\nHost: x\r\n\r\n",
)


def fuzz_pair(rng: random.Random, dpids: list[int]) -> str:
    choices = [
        lambda: f"{rng.choice(dpids)}-{rng.choice(dpids)}",
        lambda: f"{rng.randint(-5, 2**70)}-{rng.randint(0, 99)}",
        lambda: rng.choice(["", "-", "1-", "-1", "a-b", "1-2-3", "0x1-0x2", "1e3-2", "١-٢"]),
        lambda: "".join(rng.choice("0123456789-%_.~") for _ in range(rng.randint(1, 30))),
    ]
    return rng.choice(choices)()


def fuzz_body(rng: random.Random, dpids: list[int]) -> bytes:
    path = [rng.choice(dpids) for _ in range(rng.randint(0, 6))]
    values = [None, True, -1, 0, 1e308, float("nan"), "x", [], {}, [[]], path, [path, path],
              {"paths": [path], "weights": [1]}, "\u202e", 2**80]
    choices = [
        lambda: json.dumps({"paths": [path], "weights": [rng.choice(values)]}).encode(),
        lambda: json.dumps({"paths": rng.choice(values), "weights": rng.choice(values)}).encode(),
        lambda: json.dumps({rng.choice(["paths", "weights", "policy", "x", ""]): rng.choice(values)
                            for _ in range(rng.randint(0, 4))}).encode(),
        lambda: json.dumps(rng.choice(values)).encode(),
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))),
        lambda: b'{"paths": [[1, 2' * rng.randint(1, 3),
        lambda: b"[" * 5000 + b"]" * 5000,     # deep nesting
        lambda: b'{"paths": [' + b"[1,2]," * 20000 + b"[1,2]]}",
        lambda: b"",
    ]
    return rng.choice(choices)()


def fuzz_requests(count: int, seed: int, dpids: list[int]):
    """`count` (method, path, headers, body) requests, seeded: known routes with bad arguments
    and bodies, unknown routes, with the right token, a wrong one or none."""
    rng = random.Random(seed)
    for _ in range(count):
        template = rng.choice(KNOWN_PATHS + ("/qroute/v1/{pair}", "/qroute/{pair}", "/{pair}"))
        path = template.replace("{pair}", fuzz_pair(rng, dpids))
        path = "".join(c if 0x20 < ord(c) < 0x7f else f"%{ord(c) & 0xff:02x}" for c in path)
        auth = rng.choice(["right", "wrong", "none", "malformed"])
        body = fuzz_body(rng, dpids) if rng.random() < 0.8 else None
        yield rng.choice(METHODS), path, auth, body


def _request(port: int, method: str, path: str, headers: dict, body: bytes | None,
             timeout: float = 10.0) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        connection.close()


def _raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            return sock.recv(200)
        except OSError:
            return b""  # the server may close on garbage: what matters is that it goes on


def _state_latency_ms(port: int, samples: int = 20) -> float:
    return 1000 * statistics.median(
        _request(port, "GET", "/qroute/v1/state", {}, None)[1] for _ in range(samples))


def rest_fuzz(requests: int = 2000, seed: int = 1, topology: str = "diamond") -> CheckResult:
    """Seeded REST fuzz of a live controller: every answer a 4xx or 2xx (never a 5xx, never a
    dropped connection), the controller still up, REST as fast as before, and the network still
    forwarding (all-pairs ping) at the end."""
    import mininet.clean

    from controller.lab.mininet_lab import MininetLab
    from topologies.mininet_topos import topos

    mininet.clean.cleanup()
    statuses: dict[int, int] = {}
    server_errors: list[str] = []
    with MininetLab(topos[topology]()) as lab:
        lab.wait_until_ready()
        before_loss = lab.ping_all()
        before_ms = _state_latency_ms(lab.rest_port)
        dpids = list(lab.rest("switches")) or [1]
        tokens = {"right": f"Bearer {lab.settings['api_token']}", "wrong": "Bearer nope",
                  "malformed": "Bearer \u00e9\u00e9 x y"}
        for method, path, auth, body in fuzz_requests(requests, seed, dpids):
            headers = {"Content-Type": "application/json"}
            if auth in tokens:
                headers["Authorization"] = tokens[auth].encode("utf-8").decode("latin-1")
            try:
                status, _ = _request(lab.rest_port, method, path, headers, body)
            except (OSError, http.client.HTTPException) as error:
                status = -1
                server_errors.append(f"{method} {path[:60]}: {error!r}")
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 500:
                server_errors.append(f"{method} {path[:60]} ({len(body or b'')} B body): {status}")
        for data in RAW_REQUESTS:
            _raw(lab.rest_port, data)
        alive = lab.controller.poll() is None
        after_ms = _state_latency_ms(lab.rest_port)
        after_loss = lab.ping_all()
    mininet.clean.cleanup()
    passed = (not server_errors and alive and before_loss == 0 and after_loss == 0
              and after_ms <= 2 * max(before_ms, 5.0))
    figure = (f"{requests} requests + {len(RAW_REQUESTS)} raw: "
              f"{sum(n for s, n in statuses.items() if s >= 500 or s < 0)} 5xx/dropped; "
              f"REST p50 {before_ms:.1f} -> {after_ms:.1f} ms; ping loss {after_loss:.0f}%")
    return CheckResult(
        name="REST fuzz", pass_rule="no 5xx or dropped connection, controller up, REST p50 at most "
        "2x before (floor 5 ms), all-pairs ping 0% loss after",
        figure=figure, passed=passed,
        details={"statuses": {str(k): v for k, v in sorted(statuses.items())},
                 "server_errors": server_errors[:20], "rest_p50_ms": [before_ms, after_ms],
                 "ping_loss": [before_loss, after_loss], "seed": seed})


def _bad_checkpoints(directory: Path) -> dict[str, Path]:
    """Checkpoints broken in the ways a user's file can be: cut short, not a checkpoint at all,
    a sidecar that is not JSON, a model of another kind (an MLP given to policy = qnn)."""
    from qnn.models.checkpoint import resolve, sidecar_path

    good = resolve("qnn-abilene")
    cases = {}
    truncated = directory / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    sidecar_path(truncated).write_bytes(sidecar_path(good).read_bytes())
    cases["truncated"] = truncated
    garbage = directory / "garbage.pt"
    garbage.write_bytes(bytes(random.Random(7).randrange(256) for _ in range(4096)))
    cases["random bytes"] = garbage
    sidecar = directory / "bad-sidecar.pt"
    sidecar.write_bytes(good.read_bytes())
    sidecar_path(sidecar).write_text("{not json")
    cases["sidecar not JSON"] = sidecar
    cases["another kind (mlp)"] = resolve("mlp-abilene")
    return cases


def bad_checkpoints(topology: str = "diamond", cases: tuple[str, ...] | None = None) -> CheckResult:
    """A controller given an unusable checkpoint names the problem in its state and routes by
    shortest path: every host pair reaches every other."""
    import mininet.clean

    from controller.lab.mininet_lab import MininetLab
    from topologies.mininet_topos import topos

    outcomes = {}
    with tempfile.TemporaryDirectory(prefix="qroute-bad-ckpt-") as scratch:
        files = _bad_checkpoints(Path(scratch))
        for name, path in files.items():
            if cases is not None and name not in cases:
                continue
            mininet.clean.cleanup()
            with MininetLab(topos[topology](), settings={"policy": "qnn", "checkpoint": str(path)}) as lab:
                lab.wait_until_ready()
                loss = lab.ping_all()
                state = lab.rest("state")
                outcomes[name] = {"problem": state["policy_problem"], "policy": state["policy_name"],
                                  "ping_loss": loss, "alive": lab.controller.poll() is None}
            mininet.clean.cleanup()
    passed = bool(outcomes) and all(o["problem"] and o["ping_loss"] == 0 and o["alive"]
                                    for o in outcomes.values())
    figure = "; ".join(f"{name}: {'reported' if o['problem'] else 'NOT reported'}, "
                       f"ping loss {o['ping_loss']:.0f}%" for name, o in outcomes.items())
    return CheckResult(
        name="corrupt and wrong-kind checkpoints",
        pass_rule="the problem is named in /qroute/v1/state, shortest path routes, all-pairs ping 0% loss",
        figure=figure, passed=passed, details=outcomes)
