"""A checkpoint loaded to decide: the one adapter the controller and the bench share.

It loads and verifies the router (:func:`qnn.models.checkpoint.load_checkpoint`), builds the
torch view of a path set, turns the visible demand (or its last matrices, for a router trained
to decide on several) into the router's input, and returns the split as numpy, without autograd.
"""
from __future__ import annotations

import numpy as np
import torch

from qnn.models.checkpoint import HISTORY_REDUCERS, history_reduce, load_checkpoint, topology_fingerprint
from qnn.models.dataset import recent_window
from qnn.models.router import PathTensors, hard_split


class LoadedRouter:
    """``router`` and ``meta`` of a checkpoint; ``network`` / ``k`` / ``kind``, when given, must
    match what it was trained for (see :func:`load_checkpoint`).

    ``transfer=True`` lets the checkpoint route a ``network`` other than the one it was trained
    on (its features are ratios, so any network with the same k works; k is still checked);
    ``trained_on`` names the network of the sidecar and ``transferred`` says whether ``network``
    differs from it (other links or capacities, whatever the names)."""

    def __init__(self, checkpoint, network=None, k: int | None = None, kind: str | None = None,
                 device: str = "cpu", transfer: bool = False):
        self.router, self.meta = load_checkpoint(checkpoint, network=None if transfer else network, k=k,
                                                 kind=kind, device=device)
        trained = self.meta["topology"]
        also = [str(part.get("topology", {}).get("name", "?"))
                for part in self.meta.get("also_trained_on", [])]
        self.trained_on = "+".join([str(trained.get("name", "?")), *also])
        trained_digests = {part.get("topology", {}).get("sha256")
                           for part in self.meta.get("also_trained_on", [])} | {trained.get("sha256")}
        self.transferred = (network is not None
                            and topology_fingerprint(network)["sha256"] not in trained_digests)
        self.device = device
        self.kind = self.meta["model"]["kind"]
        self.k = int(self.meta["model"]["k"])
        self.setting = self.meta.get("setting", "predictive")  # the one it was trained in
        self.history = int(self.meta.get("history", 1))  # matrices a predictive decision reduces
        self._reduce = HISTORY_REDUCERS[history_reduce(self.meta)]  # checked on load
        self.feature_history = int(self.router.feature_history)  # matrices its history features read

    @property
    def recent_needed(self) -> int:
        """How many of the latest demand vectors a decision reads."""
        return max(self.history, self.feature_history)

    def path_tensors(self, pathset) -> PathTensors:
        return PathTensors(pathset, device=self.device)

    def decision_demand(self, recent_demands: np.ndarray) -> np.ndarray:
        """The demand vector ``(D,)`` the router decides on, from the latest demand vectors
        ``(H, D)`` (oldest first): the reduction of the last ``history`` of them. A router with
        history features decides on the window ``(feature_history, D)`` of the last ones instead,
        the oldest repeated where fewer are known (as in training)."""
        recent = np.asarray(recent_demands, dtype=float)
        if self.feature_history > 1:
            return recent_window(recent, self.feature_history)
        if self.history <= 1:
            return recent[-1]
        return self._reduce(recent[-self.history:], axis=0)

    @torch.no_grad()
    def decide(self, paths: PathTensors, demand: np.ndarray, single_path: bool = False) -> np.ndarray:
        """Split ``(D, k)`` (float32) of the demand vector ``(D,)`` (a window ``(H, D)`` for a
        router with history features: :meth:`decision_demand`) over ``paths``' candidates;
        ``single_path``: the argmax path of each flow, one-hot."""
        d = torch.as_tensor(np.asarray(demand, dtype=float)[None], dtype=torch.float32, device=self.device)
        split = self.router(paths, d)
        if single_path:
            split = hard_split(split, paths.mask)
        return split[0].cpu().numpy()
