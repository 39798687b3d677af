"""The QNN path selector: a TorchQuantum variational circuit scoring a flow's k candidate paths.

One circuit instance scores one flow: qubit ``q`` belongs to candidate path ``q`` (``n_qubits >= k``;
extra qubits are ancillas that only see trainable offsets). Every layer

1. re-uploads the path features: for path/qubit ``q`` and feature ``j`` a rotation
   ``R_j(scale[l,q,j] * x[q,j] + offset[l,q,j])`` with ``R_j`` cycling RY, RZ, RX (the input
   scales and offsets are trainable, so each layer learns how far each feature turns its qubit);
2. applies a trainable block: ``tq.Rot`` on every wire, then a ring of trainable ``tq.CRX``
   entanglers (or fixed ``tq.CNOT``s with ``entangler="cnot"``).

With ``encoder="mlp"`` (the hybrid variant) the angles come instead from a small classical
network shared by all paths: ``tanh`` hidden layer of ``encoder_hidden`` units over the path's F
features, then a linear map to its ``n_layers x F`` angles (an ancilla reads zero features).

The readout is ``logits[q] = out_scale * <Z_q>`` (+ ``out_bias[q]``); the router
(:mod:`qnn.models.router`) turns logits into a softmax over the flow's valid paths.

Two numerically equivalent simulators are provided (``tests/test_qnn_quantum.py`` checks it):

* ``forward(x, mode="device")`` runs gate by gate on a ``tq.QuantumDevice`` (TorchQuantum's
  ordinary path; slow for hundreds of thousands of samples);
* ``forward(x, mode="fast")`` (default) builds each trainable block's 2^n x 2^n unitary once per
  forward from the same ``tq`` gate modules (``block_unitary``: the block is run on a device holding
  the identity basis, as ``QuantumModule.get_unitary`` does) and applies the data-dependent
  encoding gates (``tq.functional`` gate matrices, batched 2x2) and the block unitaries as batched
  complex matmuls: exact, and much faster than the device path for many flows (``qroute speed``
  times both).
"""
from __future__ import annotations

import math
from typing import List

import torch
from torch import nn

import qroute_tq_compat  # noqa: F401  (must precede torchquantum: stubs its dataset module)
import torchquantum as tq
import torchquantum.functional as tqf

ENCODING_GATES = ("ry", "rz", "rx")
ENCODERS = ("linear", "mlp")  # how features become angles: per-rotation scale and offset, or a small MLP
_MATRIX_FN = {"rx": tqf.rx_matrix, "ry": tqf.ry_matrix, "rz": tqf.rz_matrix}
_DEVICE_FN = {"rx": tqf.rx, "ry": tqf.ry, "rz": tqf.rz}


class TrainableBlock(tq.QuantumModule):
    """Rot on every wire, then a ring of entanglers (trainable CRX or fixed CNOT)."""

    def __init__(self, n_wires: int, entangler: str = "crx"):
        super().__init__()
        self.n_wires = n_wires
        self.entangler = entangler
        self.rots = tq.QuantumModuleList(
            [tq.Rot(has_params=True, trainable=True) for _ in range(n_wires)])
        if n_wires == 1:
            self.pairs: List[tuple] = []
        elif n_wires == 2:
            self.pairs = [(0, 1)]
        else:
            self.pairs = [(q, (q + 1) % n_wires) for q in range(n_wires)]
        if entangler == "crx":
            self.ents = tq.QuantumModuleList(
                [tq.CRX(has_params=True, trainable=True) for _ in self.pairs])
        elif entangler == "cnot":
            self.ents = tq.QuantumModuleList([tq.CNOT() for _ in self.pairs])
        else:
            raise ValueError(f"unknown entangler {entangler!r} (crx or cnot)")

    def forward(self, qdev: tq.QuantumDevice):
        for q, rot in enumerate(self.rots):
            rot(qdev, wires=q)
        for (a, b), ent in zip(self.pairs, self.ents):
            ent(qdev, wires=[a, b])


def block_unitary(block: tq.QuantumModule, n_wires: int, device=None) -> torch.Tensor:
    """The (2^n, 2^n) unitary of ``block`` (differentiable in its parameters).

    Same construction as ``tq.QuantumModule.get_unitary`` but on ``device``.
    """
    qdev = tq.QuantumDevice(n_wires=n_wires, device=device or torch.device("cpu"))
    qdev.reset_identity_states()
    block(qdev)
    return qdev.get_states_1d().T


def z_signs(n_wires: int, device=None) -> torch.Tensor:
    """(2^n, n) matrix of Z eigenvalues: entry [b, q] = +1 if wire q of basis state b is 0.

    TorchQuantum orders wire 0 as the most significant bit."""
    b = torch.arange(2 ** n_wires, device=device)
    bits = torch.stack([(b >> (n_wires - 1 - q)) & 1 for q in range(n_wires)], dim=1)
    return (1 - 2 * bits).to(torch.float32)


class QNNCore(tq.QuantumModule):
    """Per-flow circuit: features (B, k, F) -> logits (B, k)."""

    kind = "qnn"

    def __init__(self, k: int = 3, n_features: int = 4, n_qubits: int | None = None,
                 n_layers: int = 3, entangler: str = "crx", out_bias: bool = False,
                 seed: int | None = None, encoder: str = "linear", encoder_hidden: int = 8):
        super().__init__()
        n_qubits = n_qubits or k
        if n_qubits < k:
            raise ValueError(f"n_qubits={n_qubits} < k={k}: one qubit per candidate path needed")
        if n_layers < 1:
            raise ValueError("n_layers must be >= 1")
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r} ({' or '.join(ENCODERS)})")
        if encoder == "mlp" and encoder_hidden < 1:
            raise ValueError("encoder_hidden must be >= 1")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.k, self.n_features, self.n_wires, self.n_layers = k, n_features, n_qubits, n_layers
        self.entangler, self.encoder, self.encoder_hidden = entangler, encoder, encoder_hidden
        if encoder == "linear":
            # trainable input scales / offsets for every (layer, qubit, feature) rotation
            self.in_scale = nn.Parameter(
                1.0 + 0.1 * torch.randn(n_layers, n_qubits, n_features, generator=gen))
            self.in_offset = nn.Parameter(0.1 * torch.randn(n_layers, n_qubits, n_features, generator=gen))
        else:
            self.enc_hidden = nn.Linear(n_features, encoder_hidden)
            self.enc_angles = nn.Linear(encoder_hidden, n_layers * n_features)
            if gen is not None:
                for layer in (self.enc_hidden, self.enc_angles):
                    bound = 1 / math.sqrt(layer.in_features)
                    with torch.no_grad():
                        layer.weight.copy_((torch.rand(layer.weight.shape, generator=gen) * 2 - 1) * bound)
                        layer.bias.copy_((torch.rand(layer.bias.shape, generator=gen) * 2 - 1) * bound)
        self.blocks = tq.QuantumModuleList(
            [TrainableBlock(n_qubits, entangler) for _ in range(n_layers)])
        if gen is not None:  # deterministic gate parameters (tq inits them with the global RNG)
            with torch.no_grad():
                for blk in self.blocks:
                    for p in blk.parameters():
                        p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * math.pi)
        self.out_scale = nn.Parameter(torch.tensor(3.0))
        self.out_bias = nn.Parameter(torch.zeros(k)) if out_bias else None
        self.register_buffer("zs", z_signs(n_qubits)[:, :k].contiguous(), persistent=False)

    # -- pieces shared by the simulators, the realism code and the QASM export ------------------
    def angles(self, x: torch.Tensor) -> torch.Tensor:
        """Encoding angles (B, n_layers, n_qubits, F) for features x (B, k, F)."""
        B = x.shape[0]
        if x.shape[1:] != (self.k, self.n_features):
            raise ValueError(f"features must be (B, {self.k}, {self.n_features}), got {tuple(x.shape)}")
        if self.n_wires > self.k:
            x = torch.cat([x, x.new_zeros(B, self.n_wires - self.k, self.n_features)], dim=1)
        if self.encoder == "mlp":
            ang = self.enc_angles(torch.tanh(self.enc_hidden(x)))  # (B, n, L*F)
            return ang.reshape(B, self.n_wires, self.n_layers, self.n_features).transpose(1, 2)
        return x.unsqueeze(1) * self.in_scale + self.in_offset

    def encoding_matrices(self, ang: torch.Tensor) -> torch.Tensor:
        """Per-(layer, qubit) 2x2 encoding unitaries (B, n_layers, n_qubits, 2, 2).

        Closed-form products of the tq gate matrices (RX/RY/RZ with TorchQuantum's conventions,
        ``R(t) = exp(-i t P / 2)``), vectorised rather than chaining ``tqf.*_matrix`` calls;
        :meth:`encoding_matrices_tq` is the reference and a test checks they agree."""
        B, L, n, F = ang.shape
        half = ang.reshape(-1, F) * 0.5
        c, s = torch.cos(half), torch.sin(half)
        m = None
        for j in range(F):
            gate = ENCODING_GATES[j % len(ENCODING_GATES)]
            cj, sj = c[:, j], s[:, j]
            z = torch.zeros_like(cj)
            if gate == "ry":
                g = (torch.complex(cj, z), torch.complex(-sj, z), torch.complex(sj, z),
                     torch.complex(cj, z))
            elif gate == "rz":
                zz = torch.complex(z, z)
                g = (torch.complex(cj, -sj), zz, zz, torch.complex(cj, sj))
            else:  # rx
                off = torch.complex(z, -sj)
                g = (torch.complex(cj, z), off, off, torch.complex(cj, z))
            if m is None:
                m = g
            else:  # g @ m: later gates act after earlier ones
                m = (g[0] * m[0] + g[1] * m[2], g[0] * m[1] + g[1] * m[3],
                     g[2] * m[0] + g[3] * m[2], g[2] * m[1] + g[3] * m[3])
        out = torch.stack([torch.stack([m[0], m[1]], -1), torch.stack([m[2], m[3]], -1)], -2)
        return out.reshape(B, L, n, 2, 2)

    def encoding_matrices_tq(self, ang: torch.Tensor) -> torch.Tensor:
        """Reference for :meth:`encoding_matrices` built from ``tq.functional`` gate matrices."""
        B, L, n, F = ang.shape
        flat = ang.reshape(-1, F)
        m = None
        for j in range(F):
            g = _MATRIX_FN[ENCODING_GATES[j % len(ENCODING_GATES)]](flat[:, j:j + 1])
            m = g if m is None else g @ m
        return m.reshape(B, L, n, 2, 2)

    def block_unitaries(self) -> List[torch.Tensor]:
        """Unitaries of the trainable blocks. Without autograd (inference) they are cached until
        a parameter changes (checked through the tensors' version counters)."""
        dev = self.out_scale.device
        if torch.is_grad_enabled():
            return [block_unitary(b, self.n_wires, dev) for b in self.blocks]
        key = tuple((p.data_ptr(), p._version) for p in self.blocks.parameters()) + (str(dev),)
        cached = getattr(self, "_unitary_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, [block_unitary(b, self.n_wires, dev) for b in self.blocks])
            object.__setattr__(self, "_unitary_cache", cached)
        return cached[1]

    def readout(self, z: torch.Tensor) -> torch.Tensor:
        logits = self.out_scale * z
        if self.out_bias is not None:
            logits = logits + self.out_bias
        return logits

    # -- simulators -----------------------------------------------------------------------------
    def state(self, x: torch.Tensor) -> torch.Tensor:
        """Final state vectors (B, 2^n) by the fused/batched-matmul simulator."""
        n = self.n_wires
        B = x.shape[0]
        enc = self.encoding_matrices(self.angles(x))
        us = self.block_unitaries()
        psi = torch.zeros(B, 2 ** n, dtype=torch.complex64, device=x.device)
        psi[:, 0] = 1.0
        for layer in range(self.n_layers):
            for q in range(n):
                s = psi.reshape(B, 2 ** q, 2, 2 ** (n - q - 1))
                psi = torch.einsum("bij,bajc->baic", enc[:, layer, q], s).reshape(B, 2 ** n)
            psi = psi @ us[layer].T
        return psi

    def state_device(self, x: torch.Tensor) -> torch.Tensor:
        """Final state vectors (B, 2^n) gate by gate on a tq.QuantumDevice."""
        B = x.shape[0]
        ang = self.angles(x)
        qdev = tq.QuantumDevice(n_wires=self.n_wires, bsz=B, device=x.device)
        for layer in range(self.n_layers):
            for q in range(self.n_wires):
                for j in range(self.n_features):
                    fn = _DEVICE_FN[ENCODING_GATES[j % len(ENCODING_GATES)]]
                    fn(qdev, wires=q, params=ang[:, layer, q, j:j + 1])
            self.blocks[layer](qdev)
        return qdev.get_states_1d()

    def expval_z(self, x: torch.Tensor, mode: str = "fast") -> torch.Tensor:
        psi = self.state(x) if mode == "fast" else self.state_device(x)
        probs = psi.real ** 2 + psi.imag ** 2
        return probs @ self.zs

    def forward(self, x: torch.Tensor, mode: str = "fast") -> torch.Tensor:
        return self.readout(self.expval_z(x, mode))

    def config(self) -> dict:
        return {"kind": self.kind, "k": self.k, "n_features": self.n_features,
                "n_qubits": self.n_wires, "n_layers": self.n_layers, "entangler": self.entangler,
                "out_bias": self.out_bias is not None,
                **({"encoder": "mlp", "encoder_hidden": self.encoder_hidden}
                   if self.encoder == "mlp" else {})}
