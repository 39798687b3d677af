"""Checkpoints of the learned routers: a weights file plus a JSON sidecar.

``NAME.pt`` is a plain ``state_dict`` (loadable with ``torch.load(path, weights_only=True)``);
``NAME.json`` describes it: model kind and architecture (k, qubits, layers, rounds, features, ...),
topology (name, node/link counts and a fingerprint of links and capacities), the candidate-path
rule, the training data files with their sha256, the seed, validation figures, the exact training
command and the sha256 of the weights file. :func:`load_checkpoint` checks all of it and raises
:class:`CheckpointError` (naming the file and the problem) for a missing or corrupt file, a
checksum mismatch, a sidecar field of the wrong type or range, weights that are not finite, or a
topology / k that does not match what the caller routes.
"""
from __future__ import annotations

import hashlib
import io
import json
import pathlib
from typing import Any

import numpy as np
import torch

from qnn.errors import CheckpointError

FORMAT = "qroute-router-checkpoint/1"
SHIPPED_DIR = pathlib.Path(__file__).resolve().parents[1] / "checkpoints"


def shipped_name(kind: str, network: str, variant: str = "") -> str:
    """Name of a shipped checkpoint: ``{kind}-{network}``, with ``-single`` for one trained for
    one path per flow and ``-oracle`` for one trained in the oracle setting."""
    return f"{kind}-{network}-{variant}" if variant else f"{kind}-{network}"


def shipped_candidates(kind: str, network: str, single_path: bool, setting: str = "predictive") -> list[str]:
    """Names of the shipped checkpoints that may serve a ``kind`` router on ``network``, preferred
    first: one trained for one path per flow when the router routes that way, else one trained
    in the oracle setting when it decides in that setting; the plain ``{kind}-{network}`` last."""
    preferred = "single" if single_path else "oracle" if setting == "oracle" else None
    return [shipped_name(kind, network, variant) for variant in (preferred, "") if variant is not None]


def shipped_checkpoint(kind: str, network: str, single_path: bool, setting: str = "predictive") -> str:
    """The name of the shipped checkpoint a ``kind`` router on ``network`` means by default."""
    return shipped_candidates(kind, network, single_path, setting)[0]


# what a sidecar's "history_reduce" may name: how a decision sees its last H matrices (their
# mean, or each flow's peak among them, a hedge)
HISTORY_REDUCERS = {"mean": np.mean, "max": np.max}


def history_reduce(meta: dict) -> str:
    """The sidecar's history reduction ("mean" in sidecars written before the option)."""
    return meta.get("history_reduce", "mean")


# matrices between what a training pair decides on and what it is scored on, per setting
TARGET_LAG = {"predictive": 1, "oracle": 0}


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def topology_fingerprint(network) -> dict:
    """Name, sizes and a sha256 over the link list and capacities (what the weights assume)."""
    h = hashlib.sha256()
    h.update(json.dumps([list(map(int, link)) for link in network.links]).encode())
    h.update(np.asarray(network.capacity, dtype=np.float64).tobytes())
    return {"name": network.name, "n_nodes": int(network.n_nodes), "n_links": int(network.n_links),
            "sha256": h.hexdigest()}


def sidecar_path(weights_path) -> pathlib.Path:
    return pathlib.Path(weights_path).with_suffix(".json")


def resolve(path_or_name) -> pathlib.Path:
    """A path, or the name of a shipped checkpoint (``qnn-geant`` -> qnn/checkpoints/qnn-geant.pt)."""
    p = pathlib.Path(path_or_name)
    if p.suffix != ".pt" and not p.exists():
        shipped = SHIPPED_DIR / f"{p.name}.pt"
        if shipped.exists():
            return shipped
    return p


def write_weights(path, module, side: dict[str, Any]) -> dict:
    """Write ``module``'s state_dict to ``path`` and ``side`` (with the weights' file name and
    sha256 added) to its sidecar; returns the sidecar dict."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, buf)
    data = buf.getvalue()
    path.write_bytes(data)
    side = {**side, "weights_file": path.name, "weights_sha256": hashlib.sha256(data).hexdigest()}
    sidecar_path(path).write_text(json.dumps(side, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return side


def read_sidecar_json(path, expected_format: str, what: str) -> tuple[pathlib.Path, dict]:
    """The sidecar of weights file ``path`` (its path and its JSON object), refused unless both
    files exist and the sidecar's ``format`` is ``expected_format`` (``what``: the kind of
    checkpoint, for the message)."""
    path = pathlib.Path(path)
    side = sidecar_path(path)
    if not path.exists():
        raise CheckpointError(path, "weights file not found")
    if not side.exists():
        raise CheckpointError(side, "metadata sidecar not found (expected next to the weights)")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(side, f"sidecar is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != expected_format:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(side, f"not a {what} (format {found!r}, expected {expected_format!r})")
    return side, meta


def verified_weights(path, meta: dict) -> bytes:
    """The weights file's bytes, refused when their sha256 is not the one the sidecar records."""
    data = pathlib.Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta["weights_sha256"]:
        raise CheckpointError(path, f"checksum mismatch: weights sha256 {digest[:12]}... but sidecar "
                                    f"records {meta['weights_sha256'][:12]}... (file changed or corrupt)")
    return data


def save_checkpoint(path, router, meta: dict[str, Any]) -> dict:
    """Write ``path`` (weights) and its sidecar; returns the sidecar dict."""
    return write_weights(path, router, {"format": FORMAT, **meta, "model": router.config()})


def read_sidecar(path) -> dict:
    side, meta = read_sidecar_json(path, FORMAT, "qroute router checkpoint")
    for key in ("model", "topology", "weights_sha256"):
        if key not in meta:
            raise CheckpointError(side, f"sidecar lacks {key!r}")
    problem = sidecar_problem(meta)
    if problem:
        raise CheckpointError(side, problem)
    return meta


def _is_count(value, least: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def sidecar_problem(meta: dict) -> str:
    """What is wrong with the fields of a sidecar that its users read ("" when nothing), so that
    an edited or damaged one is refused on loading instead of failing later in a decision."""
    digest = meta["weights_sha256"]
    if not (isinstance(digest, str) and len(digest) == 64
            and all(c in "0123456789abcdef" for c in digest)):
        return "'weights_sha256' must be a 64-digit lowercase hex string"
    model = meta["model"]
    if not isinstance(model, dict):
        return "'model' must be an object"
    if model.get("kind") not in ("qnn", "mlp"):
        return f"model kind {model.get('kind')!r} is neither 'qnn' nor 'mlp'"
    for key in ("k", "n_rounds"):
        if not _is_count(model.get(key)):
            return f"model {key} must be a whole number of at least 1, not {model.get(key)!r}"
    features = model.get("features")
    if not (isinstance(features, list) and features and all(isinstance(f, str) for f in features)):
        return f"model features must be a non-empty list of names, not {features!r}"
    if not isinstance(meta["topology"], dict):
        return "'topology' must be an object"
    if meta.get("setting", "predictive") not in TARGET_LAG:
        return f"setting {meta.get('setting')!r} is none of {', '.join(TARGET_LAG)}"
    if not _is_count(meta.get("history", 1)):
        return f"history must be a whole number of at least 1, not {meta.get('history')!r}"
    reduce = history_reduce(meta)
    if not (isinstance(reduce, str) and reduce in HISTORY_REDUCERS):
        return f"history_reduce {reduce!r} is none of {', '.join(HISTORY_REDUCERS)}"
    if not isinstance(meta.get("data_files", {}), dict):
        return "'data_files' must be an object (file name -> sha256)"
    split = meta.get("split", {})
    if not isinstance(split, dict):
        return "'split' must be an object"
    pairs = split.get("train_pairs")
    if pairs is not None and not (isinstance(pairs, list) and len(pairs) == 2
                                  and all(_is_count(x, 0) for x in pairs) and pairs[0] <= pairs[1]):
        return f"split train_pairs must be [first, last] matrix indices, not {pairs!r}"
    return ""


def trained_target_rows_in(meta: dict, traffic_name: str, traffic_sha256: str) -> set:
    """Rows of the traffic file (its name and sha256) that the checkpoint was trained to score,
    on its main network or on any network of ``also_trained_on``: empty if none trained on it."""
    rows = set()
    for part in [meta, *meta.get("also_trained_on", [])]:
        if part.get("data_files", {}).get(traffic_name) == traffic_sha256:
            rows |= set(trained_target_rows({"setting": meta.get("setting"), **part}))
    return rows


def trained_target_rows(meta: dict) -> range:
    """Rows of the training traffic file whose matrices a checkpoint was trained to score
    (empty if the sidecar records no split). Predictive pair i decides on matrix i and is
    scored on matrix i + 1; oracle pair i decides on and is scored on matrix i."""
    pairs = meta.get("split", {}).get("train_pairs")
    if not pairs:
        return range(0)
    first, last = (int(x) for x in pairs)
    lag = TARGET_LAG.get(meta.get("setting"), TARGET_LAG["predictive"])
    return range(first + lag, last + 1 + lag)


def model_config(kind: str, k: int, features, n_qubits: int | None = None, n_layers: int = 3,
                 n_rounds: int = 4, entangler: str = "crx", update: str = "residual",
                 match_params: int | None = None, encoder: str = "linear", encoder_hidden: int = 8,
                 feature_history: int = 1) -> dict:
    """The ``model`` section of a sidecar for a new router of this architecture (what
    :func:`build_router` builds). The MLP is sized to ``match_params`` trainable parameters,
    by default those of the QNN with the same k, features, qubits, layers and entangler."""
    features = list(features)
    common = {"n_rounds": n_rounds, "features": features, "update": update, "kind": kind, "k": k,
              "n_features": len(features),
              **({"feature_history": feature_history} if feature_history > 1 else {})}
    if encoder not in ("linear", "mlp"):
        raise ValueError(f"unknown encoder {encoder!r} (linear or mlp)")
    if kind == "qnn":
        hybrid = {"encoder": "mlp", "encoder_hidden": encoder_hidden} if encoder == "mlp" else {}
        return {**common, "n_qubits": n_qubits or k, "n_layers": n_layers, "entangler": entangler,
                "out_bias": False, **hybrid}
    if encoder != "linear":
        raise ValueError("a classical encoder of the angles is a QNN variant (--model qnn)")
    if kind == "mlp":
        from qnn.models.mlp import matched_sizes

        if match_params is None:
            from qnn.models.quantum import QNNCore
            from qnn.models.router import n_params

            match_params = n_params(QNNCore(k=k, n_features=len(features), n_qubits=n_qubits,
                                            n_layers=n_layers, entangler=entangler))
        # (the MLP matched to a hybrid QNN is sized with --match-params)
        return {**common, **matched_sizes(match_params, k=k, n_features=len(features))}
    raise ValueError(f"unknown model kind {kind!r}")


def build_router(model_cfg: dict, seed: int | None = None):
    """A fresh (untrained) router with the architecture a sidecar's ``model`` section describes;
    ``seed`` makes its initial weights depend on nothing else."""
    from qnn.models.router import Router

    cfg = dict(model_cfg)
    kind = cfg.get("kind")
    feats = cfg["features"]
    if kind == "qnn":
        from qnn.models.quantum import QNNCore
        core = QNNCore(k=cfg["k"], n_features=len(feats), n_qubits=cfg["n_qubits"],
                       n_layers=cfg["n_layers"], entangler=cfg.get("entangler", "crx"),
                       out_bias=cfg.get("out_bias", False), seed=seed,
                       encoder=cfg.get("encoder", "linear"), encoder_hidden=cfg.get("encoder_hidden", 8))
    elif kind == "mlp":
        from qnn.models.mlp import MLPCore
        core = MLPCore(k=cfg["k"], n_features=len(feats), hidden=cfg["hidden"],
                       n_in_gain=cfg.get("n_in_gain", 0), n_out_gain=cfg.get("n_out_gain", 0), seed=seed)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    return Router(core, n_rounds=cfg["n_rounds"], features=feats, update=cfg.get("update", "residual"),
                  feature_history=cfg.get("feature_history", 1))


def load_checkpoint(path, network=None, k: int | None = None, kind: str | None = None,
                    device="cpu"):
    """Load and verify a checkpoint; returns ``(router, meta)``.

    ``network`` / ``k`` / ``kind``, when given, must match what the checkpoint was trained for."""
    path = resolve(path)
    meta = read_sidecar(path)
    data = verified_weights(path, meta)
    model_cfg = meta["model"]
    if kind is not None and model_cfg.get("kind") != kind:
        raise CheckpointError(path, f"holds a {model_cfg.get('kind')!r} model, {kind!r} wanted")
    if k is not None and int(model_cfg.get("k", -1)) != int(k):
        raise CheckpointError(path, f"trained for k={model_cfg.get('k')} candidate paths, "
                                    f"this path set has k={k}")
    if network is not None:
        want, have = meta["topology"], topology_fingerprint(network)
        if want.get("name") != have["name"] or want.get("n_links") != have["n_links"] \
                or want.get("n_nodes") != have["n_nodes"]:
            raise CheckpointError(path, f"trained on topology {want.get('name')!r} ({want.get('n_nodes')} "
                                        f"nodes, {want.get('n_links')} links), asked to route "
                                        f"{have['name']!r} ({have['n_nodes']} nodes, "
                                        f"{have['n_links']} links)")
        if want.get("sha256") != have["sha256"]:
            raise CheckpointError(path, f"topology {have['name']!r} differs from the one trained on "
                                        f"(links or capacities changed)")
    try:
        state = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for bad bytes
        raise CheckpointError(path, f"weights cannot be read ({type(err).__name__}: {err})") from None
    try:
        router = build_router(model_cfg)
        router.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError, TypeError) as err:
        raise CheckpointError(path, f"weights do not fit the described model ({err})") from None
    broken = [name for name, value in router.state_dict().items()
              if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if broken:
        raise CheckpointError(path, f"weights hold NaN or infinite values ({', '.join(broken)}): "
                                    "a diverged training run")
    return router.to(device).eval(), meta
