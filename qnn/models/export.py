"""``qroute export-qasm``: the trained QNN circuit for one flow as OpenQASM 2 or 3 (via qiskit).

The circuit is data-dependent (features are re-uploaded as rotation angles every layer), so one
export is for one flow's features: either given on the command line (``--features`` with k*F
numbers, path by path) or taken from the data (``--matrix T --flow D --round R``: the features
that flow sees in that coordination round when deciding from matrix T).

Gate mapping (TorchQuantum -> qiskit, identical conventions ``R(t) = exp(-i t P / 2)``):
RX/RY/RZ -> rx/ry/rz; ``tq.Rot(phi, theta, omega)`` = RZ(omega) RY(theta) RZ(phi) -> rz(phi),
ry(theta), rz(omega); ``tq.CRX`` -> crx; ``tq.CNOT`` -> cx. TorchQuantum wire q is qiskit qubit q
(qiskit prints bitstrings little-endian; ``<Z_q>`` is per qubit, so the readout is the same).
"""
from __future__ import annotations

import argparse
import math
import pathlib
import sys

import numpy as np
import torch

from qnn.argtypes import nonnegative_int, writable_output
from qnn.models.quantum import ENCODING_GATES, QNNCore


def build_circuit(core: QNNCore, features, measure: bool = True):
    """A qiskit ``QuantumCircuit`` equal to ``core``'s circuit for one flow's features (k, F)."""
    from qiskit import QuantumCircuit

    x = torch.as_tensor(np.asarray(features, dtype=np.float32)).reshape(1, core.k, core.n_features)
    with torch.no_grad():
        ang = core.angles(x)[0].double().numpy()  # (L, n, F)
    n = core.n_wires
    qc = QuantumCircuit(n, n if measure else 0, name="qroute_qnn")
    for layer in range(core.n_layers):
        for q in range(n):
            for j in range(core.n_features):
                getattr(qc, ENCODING_GATES[j % len(ENCODING_GATES)])(float(ang[layer, q, j]), q)
        block = core.blocks[layer]
        for q, rot in enumerate(block.rots):
            phi, theta, omega = (float(v) for v in rot.params.detach().reshape(-1))
            qc.rz(phi, q)
            qc.ry(theta, q)
            qc.rz(omega, q)
        for (a, b), ent in zip(block.pairs, block.ents):
            if block.entangler == "crx":
                qc.crx(float(ent.params.detach().reshape(-1)[0]), a, b)
            else:
                qc.cx(a, b)
        if layer < core.n_layers - 1:
            qc.barrier()
    if measure:
        qc.measure(range(n), range(n))
    return qc


def to_qasm(qc, version: int = 3) -> str:
    if version == 2:
        from qiskit import qasm2
        return qasm2.dumps(qc)
    from qiskit import qasm3
    return qasm3.dumps(qc)


def z_expectations(qc) -> np.ndarray:
    """Per-qubit <Z> of a (measurement-free) circuit by qiskit's statevector."""
    from qiskit.quantum_info import Statevector

    sv = Statevector(qc.remove_final_measurements(inplace=False))
    probs = sv.probabilities()
    idx = np.arange(len(probs))
    return np.array([float(np.sum(probs * (1 - 2 * ((idx >> q) & 1)))) for q in range(qc.num_qubits)])


def flow_features(router, pt, demand: np.ndarray, flow: int, round_index: int) -> np.ndarray:
    """The (k, F) features flow ``flow`` sees in round ``round_index`` when deciding ``demand``
    (a window (H, D) of the last matrices for a router with history features)."""
    x = torch.as_tensor(np.asarray(demand, dtype=np.float32))[None]
    window, d = (x, x[:, -1]) if router.feature_history > 1 else (None, x.reshape(1, -1))
    with torch.no_grad():
        split = router.initial_split(pt, 1)
        if round_index > 0:
            split = router(pt, x, n_rounds=round_index)
        return router.path_features(pt, d, split, window)[0, flow].numpy()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True,
                   help="QNN checkpoint (.pt with its .json), or a shipped name like qnn-geant")
    p.add_argument("--features", help="comma-separated k*F feature values, path by path")
    p.add_argument("--matrix", type=nonnegative_int, default=0,
                   help="traffic matrix to take features from (default 0)")
    p.add_argument("--flow", type=nonnegative_int, default=0, help="demand index in the path set (default 0)")
    p.add_argument("--round", type=nonnegative_int, default=0,
                   help="coordination round (default 0: uniform split)")
    p.add_argument("--data-dir", help="data directory (default $QROUTE_DATA_DIR or <repo>/../shared/data)")
    p.add_argument("--qasm", type=int, choices=(2, 3), default=3, help="OpenQASM version (default 3)")
    p.add_argument("--no-measure", action="store_true", help="leave out the final measurements")
    p.add_argument("--out", help="write here instead of stdout")


def run(args) -> int:
    from qnn.models.checkpoint import load_checkpoint

    if args.out:
        writable_output(args.out, "out")
    router, meta = load_checkpoint(args.checkpoint, kind="qnn")
    core = router.core
    if args.round > router.n_rounds - 1:
        raise ValueError(f"--round {args.round}: the model decides in rounds 0..{router.n_rounds - 1}")
    if args.features:
        try:
            vals = [float(v) for v in args.features.split(",")]
        except ValueError:
            raise ValueError(f"--features {args.features!r}: not a comma-separated list of numbers") from None
        if len(vals) != core.k * core.n_features or not all(math.isfinite(v) for v in vals):
            raise ValueError(f"--features needs {core.k * core.n_features} finite values (k={core.k} paths x "
                             f"{core.n_features} features: {', '.join(router.features)})")
        feats = np.array(vals).reshape(core.k, core.n_features)
        where = "given features"
    else:
        from qnn.models.router import PathTensors
        from qnn.models.dataset import load_dataset

        ds = load_dataset(meta["topology"]["name"], k=core.k, data_dir=args.data_dir)
        for option, index, count in (("matrix", args.matrix, len(ds.demands)),
                                     ("flow", args.flow, ds.pathset.n_demands)):
            if index >= count:
                raise ValueError(f"--{option} {index}: {meta['topology']['name']} has {count} "
                                 f"(0..{count - 1})")
        pt = PathTensors(ds.pathset)
        if router.feature_history > 1:
            from qnn.models.dataset import history_windows

            decided = history_windows(ds.demands[:args.matrix + 1], router.feature_history)[-1]
        else:
            decided = ds.demands[args.matrix]
        feats = flow_features(router, pt, decided, args.flow, args.round)
        src, dst = ds.pathset.demands[args.flow]
        where = f"{meta['topology']['name']} matrix {args.matrix}, flow {src}->{dst}, round {args.round}"
    qc = build_circuit(core, feats, measure=not args.no_measure)
    header = (f"// qroute QNN circuit ({core.n_wires} qubits, {core.n_layers} layers) for {where}\n"
              f"// features (path x [{', '.join(router.features)}]): {np.round(feats, 6).tolist()}\n"
              f"// logits = {float(core.out_scale.detach()):.6f} * <Z_q> for q < k; "
              f"split = softmax over valid paths\n")
    text = header + to_qasm(qc, args.qasm)
    if args.out:
        pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
