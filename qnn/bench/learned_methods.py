"""Bench methods for the learned routers: ``qnn``, ``qnn-split``, ``mlp``, ``mlp-split``, and the
topology-specific ``dote`` and ``figret`` (:class:`DoteRouting`).

``*-split`` returns the router's split ratios over the k candidate paths; the plain names put
each flow on its argmax path (one path per flow). ``options["checkpoint"]`` may be a checkpoint
path, a comma-separated list of them, a directory (its file with the shipped name first, then
the others in name order), or a shipped name (``qnn-geant``); each method takes the first whose
model kind (qnn / mlp) matches (single-path methods prefer one trained with ``--single-path``;
in the oracle setting one trained with ``--setting oracle``), or the sibling file with the kind
swapped in its name (``qnn-geant.pt`` -> ``mlp-geant.pt``). Without one, the shipped checkpoint
for the network is used: ``{kind}-{network}-single.pt`` for single-path methods,
``{kind}-{network}-oracle.pt`` for split methods in the oracle setting when it exists, else
``{kind}-{network}.pt``. A checkpoint given explicitly may come from another network with the
same k (transfer); where several are given, one trained on the routed network is preferred.

The decision sees the visible matrix only (predictive: matrix t-1): the router simulates the
link loads its own splits would cause on it, round by round (see :mod:`qnn.models.router`).
"""
from __future__ import annotations

import pathlib

import numpy as np

from qnn.bench.methods import register_method
from qnn.models.checkpoint import (SHIPPED_DIR, CheckpointError, read_sidecar, resolve, sha256_file,
                                   shipped_candidates, shipped_name, trained_target_rows,
                                   trained_target_rows_in)
from qnn.models.loaded import LoadedRouter


def _candidates(spec, preferred_names: list[str] = ()) -> list[pathlib.Path]:
    """The checkpoint files ``spec`` names, in its order. A directory's files come in name
    order after those named ``preferred_names`` (the shipped names, preferred first), so that a
    variant saved beside ``qnn-geant.pt`` (``qnn-geant-x.pt``) is not chosen before it."""
    if not spec:
        return []
    out = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        p = resolve(part)
        if p.is_dir():
            rank = {name: i for i, name in enumerate(preferred_names)}
            out.extend(sorted(p.glob("*.pt"), key=lambda f: (rank.get(f.stem, len(rank)), f.name)))
        else:
            out.append(p)
    return out


def _sidecar_or_none(p) -> dict | None:
    try:
        return read_sidecar(p)
    except CheckpointError:
        return None


def _is(meta: dict | None, kind: str, single_path: bool | None, network_name: str | None = None,
        setting: str | None = None) -> bool:
    """Whether a sidecar (None: unreadable) describes a ``kind`` model with these properties."""
    if meta is None or meta["model"].get("kind") != kind:
        return False
    if network_name is not None and meta["topology"].get("name") != network_name:
        return False
    if setting is not None and meta.get("setting", "predictive") != setting:
        return False
    return single_path is None or bool(meta.get("single_path", False)) == single_path


def choose_checkpoint(spec, kind: str, network_name: str, single_path: bool = False,
                      setting: str = "predictive") -> pathlib.Path:
    """The checkpoint a ``kind`` method should load for ``spec`` (see module doc).

    Single-path methods prefer a checkpoint trained with ``--single-path`` (shipped as
    ``{kind}-{network}-single.pt``) and fall back to the argmax of a split-trained one. A
    checkpoint trained for the bench's ``setting`` (``--setting oracle``: shipped as
    ``{kind}-{network}-oracle.pt``) is preferred to one trained for the other setting."""
    names = shipped_candidates(kind, network_name, single_path, setting)
    cands = _candidates(spec, names)
    if not cands:
        cands = [SHIPPED_DIR / f"{name}.pt" for name in names]
        cands = [p for p in cands if p.exists()] or cands[-1:]
        if len(cands) == 1:
            return cands[0]
    metas = {p: _sidecar_or_none(p) for p in cands}  # each sidecar read once
    for wanted_network in (network_name, None):  # none trained on this network: transfer one
        for want in ((single_path, False) if single_path else (False, None)):
            for wanted_setting in (setting, None):
                for p in cands:
                    if _is(metas[p], kind, want, wanted_network, wanted_setting):
                        return p
    for p in cands:
        if _is(metas[p], kind, None):
            return p
    other = "mlp" if kind == "qnn" else "qnn"
    for p in cands:
        sib = p.with_name(p.name.replace(other, kind))
        if sib != p and sib.exists():
            return sib
    return cands[0]  # load_checkpoint will report the kind mismatch (or the missing file)


class LearnedRouting:
    """A learned router as a bench method. A checkpoint named with ``options["checkpoint"]``
    may have been trained on another network (same k): the bench then measures transfer, and
    ``trained_on`` / ``transferred`` say so in its results. The default checkpoint, chosen by
    the network's name, must match the network it routes."""

    def __init__(self, pathset, network, options: dict, kind: str, single_path: bool):
        spec = options.get("checkpoint")
        path = choose_checkpoint(spec, kind, network.name, single_path, options.get("setting", "predictive"))
        self.loaded = LoadedRouter(path, network=network, k=pathset.k, kind=kind,
                                   device=options.get("device") or "cpu", transfer=bool(spec))
        if self.loaded.feature_history > 1 and options.get("setting", "predictive") != "predictive":
            raise CheckpointError(path, f"its history features read each flow's last "
                                        f"{self.loaded.feature_history} matrices before the one it routes: "
                                        f"predictive setting only")
        self.checkpoint = path
        self.trained_on, self.transferred = self.loaded.trained_on, self.loaded.transferred
        self.meta = self.loaded.meta
        self.pt = self.loaded.path_tensors(pathset)
        self.single_path = single_path
        self.n_params = self.meta.get("n_params")

    def trained_targets(self, traffic_file, file_sha256: str | None = None) -> set:
        """Rows of `traffic_file` this checkpoint was trained to predict, on its main network or
        another it was also trained on (empty if none trained on the file): scoring on them
        would report training error as skill. ``file_sha256``: the file's digest when the caller
        already has it."""
        return trained_target_rows_in(self.meta, pathlib.Path(traffic_file).name,
                                      file_sha256 or sha256_file(traffic_file))

    def decide(self, ctx) -> np.ndarray:
        demand = ctx.visible_demand
        if self.loaded.recent_needed > 1 and ctx.setting == "predictive" and ctx.history_tms is not None:
            recent = ctx.history_tms[-self.loaded.recent_needed:]
            demand = self.loaded.decision_demand(ctx.pathset.demand_vector(recent))
        return self.loaded.decide(self.pt, demand, self.single_path).astype(float)


register_method("qnn", lambda ps, net, o: LearnedRouting(ps, net, o, "qnn", True),
                "TorchQuantum circuit router, one path per flow (argmax)")
register_method("qnn-split", lambda ps, net, o: LearnedRouting(ps, net, o, "qnn", False),
                "TorchQuantum circuit router, split ratios over the k paths")
register_method("mlp", lambda ps, net, o: LearnedRouting(ps, net, o, "mlp", True),
                "parameter-matched MLP control, one path per flow (argmax)")
register_method("mlp-split", lambda ps, net, o: LearnedRouting(ps, net, o, "mlp", False),
                "parameter-matched MLP control, split ratios over the k paths")


class DoteRouting:
    """DOTE / FIGRET (:mod:`qnn.models.dote`) as a bench method: the last H visible matrices
    to split ratios. Topology-specific: the checkpoint (``options["checkpoint"]``: the first
    DOTE/FIGRET checkpoint of that kind trained on this network among the given paths,
    directories or shipped names; else the shipped ``{kind}-{network}``) must have been trained
    on the routed network, and loading one trained elsewhere is refused."""

    transferred = False  # a checkpoint from another network is refused, never transferred

    def __init__(self, pathset, network, options: dict, kind: str):
        from qnn.models.dote import LoadedDote

        self.checkpoint = choose_dote_checkpoint(options.get("checkpoint"), kind, network.name)
        self.loaded = LoadedDote(self.checkpoint, network, pathset, kind=kind,
                                 device=options.get("device") or "cpu")
        self.meta = self.loaded.meta
        self.trained_on = str(self.meta["topology"].get("name", "?"))
        self.n_params = self.loaded.n_params

    def trained_targets(self, traffic_file, file_sha256: str | None = None) -> range:
        digest = self.meta.get("data_files", {}).get(pathlib.Path(traffic_file).name)
        if not digest or digest != (file_sha256 or sha256_file(traffic_file)):
            return range(0)
        return trained_target_rows(self.meta)

    def decide(self, ctx) -> np.ndarray:
        recent = ctx.history_tms[-self.loaded.history:]
        return self.loaded.decide(ctx.pathset.demand_vector(recent))


def choose_dote_checkpoint(spec, kind: str, network_name: str) -> pathlib.Path:
    from qnn.models.dote import read_dote_sidecar

    shipped = SHIPPED_DIR / f"{shipped_name(kind, network_name)}.pt"
    cands = _candidates(spec)
    metas = {}
    for p in cands:
        try:
            metas[p] = read_dote_sidecar(p)
        except CheckpointError:
            continue
    for wanted_network in (network_name, None):  # one from another network: its load says why not
        for p, meta in metas.items():
            if meta["model"]["kind"] == kind and wanted_network in (None, meta["topology"].get("name")):
                return p
    return shipped


register_method("dote", lambda ps, net, o: DoteRouting(ps, net, o, "dote"),
                "DOTE (NSDI'23): network-wide MLP, last 12 matrices -> split ratios (this topology only)")
register_method("figret", lambda ps, net, o: DoteRouting(ps, net, o, "figret"),
                "FIGRET (SIGCOMM'24): DOTE plus its per-pair robustness term (this topology only)")
