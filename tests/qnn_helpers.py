"""Small synthetic network and traffic for the QNN router tests (no real data needed)."""
from __future__ import annotations

import numpy as np
import torch

from qnn.network import Network
from qnn.paths import k_shortest_paths
from qnn.models.router import PathTensors


def tiny_network(name: str = "tiny", extra_link: bool = False) -> Network:
    """6 nodes: a bidirectional ring plus two chords (and optionally one more link)."""
    und = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (0, 3), (1, 4)]
    if extra_link:
        und.append((2, 5))
    links = [e for u, v in und for e in ((u, v), (v, u))]
    cap = np.array([10.0 if i % 3 else 5.0 for i in range(len(links))]) * 1e9
    return Network(name, list(range(6)), links, cap, np.ones(len(links)))


def tiny_setup(k: int = 3, n_tms: int = 24, seed: int = 0, name: str = "tiny"):
    net = tiny_network(name)
    ps = k_shortest_paths(net, k, weight="hops")
    rng = np.random.default_rng(seed)
    base = rng.gamma(1.0, 1.0, size=ps.n_demands)
    dem = base[None, :] * rng.uniform(0.5, 1.5, size=(n_tms, ps.n_demands)) * 1e9
    from qnn.lp import path_lp

    opt = np.array([path_lp(ps, d).mlu for d in dem])
    return net, ps, PathTensors(ps), dem, opt


def t(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def shipped_router_checkpoints() -> list:
    """The shipped checkpoints of the per-flow routers (QNN, MLP), not the topology-specific
    DOTE/FIGRET ones beside them (tests/test_dote.py checks those)."""
    import json

    from qnn.models.checkpoint import FORMAT, SHIPPED_DIR, sidecar_path

    return [p for p in sorted(SHIPPED_DIR.glob("*.pt"))
            if json.loads(sidecar_path(p).read_text(encoding="utf-8")).get("format") == FORMAT]
