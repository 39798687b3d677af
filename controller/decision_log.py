"""The decision log: every routing decision as a record (when, why, who decided, what moved,
predicted and measured MLU, how long it took), kept in a bounded ring for
``GET /qroute/v1/decisions`` and optionally appended to a JSON-lines file.

Pure apart from the file: the app hands in the times (``wall`` for the record's unix time, ``now``
on the clock it hands the pure code) and the measured MLU; a record's ``mlu_after`` is the first
MLU measured one stats interval after the decision ended. A record goes to the file once it is
complete: when its ``mlu_after`` is known, or when the next decision starts without it.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import stat
from collections import deque
from collections.abc import Mapping, Sequence

from controller.splits import Pair, Split

KINDS = ("failure", "timer", "host", "operator", "start")
CHANGE_KINDS = ("new", "rerouted", "reweighted", "removed")
# the first word of the reasons an operator's request gives (controller.app)
OPERATOR_WORDS = ("operator", "pin", "unpin")


def is_failure(reason: str) -> bool:
    """Whether a reason for a decision is a failure, whose repair must not wait on a policy."""
    return (reason.startswith("link ") and reason.endswith((" down", " lost"))) or \
        (reason.startswith("switch ") and reason.endswith(" left"))


def periodic_only_while_idle(reasons: Sequence[str], measured_mlu: float | None,
                              reoptimize_above: float) -> bool:
    """Whether a decision for ``reasons`` is not worth running: the re-optimisation timer alone
    asked for it and no link's measured utilisation reached ``reoptimize_above`` (0: every one
    runs). A nearly idle network's demand (between bursts, or traffic ramping up) says little
    about the next busy period: a routing fitted to it only moves traffic, and the next
    traffic starts on it. Before any link is measured, it runs."""
    return (reoptimize_above > 0 and measured_mlu is not None and measured_mlu < reoptimize_above
            and bool(reasons) and all(reason == "periodic" for reason in reasons))


def decision_kind(reasons: Sequence[str]) -> str:
    """The kind of a decision answering ``reasons``: the first of KINDS that one of them is
    (anything not a failure, the periodic timer, a host or an operator's request, such as a
    switch read back, a link up or the end of resync, counts as "start")."""
    words = {reason.split(" ", 1)[0] for reason in reasons}
    if any(is_failure(reason) for reason in reasons):
        return "failure"
    if "periodic" in words:
        return "timer"
    if "host" in words:
        return "host"
    if words & set(OPERATOR_WORDS):
        return "operator"
    return "start"


def pair_changes(change, splits: Mapping[Pair, Split]) -> list[dict]:
    """Each pair a decision moved, with its split after it (``splits``; none for a removed
    pair), ordered by pair. ``change``: a :class:`controller.tunnels.Change`."""
    kinds = {"new": change.new, "rerouted": change.rerouted, "reweighted": change.reweighted,
             "removed": change.dropped}
    entries = []
    for kind, pairs in kinds.items():
        for pair in pairs:
            split = () if kind == "removed" else splits.get(pair, ())
            entries.append({"src": pair[0], "dst": pair[1], "paths": [list(path) for path, _ in split],
                            "weights": [float(weight) for _, weight in split], "change": kind})
    return sorted(entries, key=lambda entry: (entry["src"], entry["dst"]))


def _rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


class DecisionLog:
    """The latest ``size`` decisions, newest last, numbered from 1. ``run``: this controller
    start's id (its start time, unix seconds): numbers start again at 1 when it restarts, so a
    reader that sees another run (or a latest number below the one it asked since) starts over."""

    def __init__(self, size: int, stats_interval: float, file: str = "", run: float = 0.0,
                 log: logging.Logger | None = None):
        self.size = size
        self.log = log or logging.getLogger("qroute.decision_log")
        self.run = run
        self.stats_interval = stats_interval
        self.file = file
        self.records: deque[dict] = deque(maxlen=size)
        self.number = 0
        self.problem = ""                 # why the file could not be written, if it could not
        self._waiting: list[tuple[float, dict]] = []  # (when mlu_after is due, record)

    def record(self, *, wall: float, now: float, reasons: Sequence[str], policy: str,
               fallback: str, decision_s: float, install_s: float, changes: list[dict],
               predicted_mlu: float | None, mlu_before: float | None, epoch: int,
               aborted: Sequence[int] = ()) -> dict:
        """A decision that started at unix time ``wall`` and ended at ``now``; records still
        waiting for their ``mlu_after`` are complete without it. ``aborted``: the switches that
        did not confirm a phase of its plan, whose rest was not sent."""
        self._complete(self._waiting)
        self._waiting = []
        self.number += 1
        moved = {kind: sum(1 for entry in changes if entry["change"] == kind) for kind in CHANGE_KINDS}
        entry = {"number": self.number, "run": self.run, "time": round(wall, 3), "reasons": list(reasons),
                 "kind": decision_kind(reasons), "policy": policy, "fallback": fallback,
                 "decision_ms": round(decision_s * 1000, 3), "install_ms": round(install_s * 1000, 3),
                 "aborted": sorted(aborted), "changes": changes, "moved": moved,
                 "predicted_mlu": _rounded(predicted_mlu),
                 "mlu_before": _rounded(mlu_before), "mlu_after": None, "epoch": epoch}
        self.records.append(entry)
        self._waiting.append((now + self.stats_interval, entry))
        return entry

    def measured(self, mlu: float | None, now: float) -> None:
        """The MLU measured at ``now``: the ``mlu_after`` of the records due by then."""
        if mlu is None or not self._waiting:
            return
        due = [(at, entry) for at, entry in self._waiting if at <= now]
        if not due:
            return
        for _, entry in due:
            entry["mlu_after"] = _rounded(mlu)
        self._waiting = [(at, entry) for at, entry in self._waiting if at > now]
        self._complete(due)

    def since(self, number: int) -> list[dict]:
        return [entry for entry in self.records if entry["number"] > number]

    def describe(self, since: int | None = None) -> dict:
        return {"size": self.size, "run": self.run, "latest": self.number,
                "decisions": list(self.records) if since is None else self.since(since)}

    def _complete(self, waited: list[tuple[float, dict]]) -> None:
        if not self.file or not waited:
            return
        lines = "".join(json.dumps(entry, sort_keys=True) + "\n" for _, entry in waited)
        try:
            _append(self.file, lines.encode("utf-8"))
            problem = ""
        except OSError as error:
            problem = (f"decision_log_file {self.file} cannot be written ({error}); "
                       "records are kept in memory only")
        if problem != self.problem:  # logged once per change, not once per decision
            if problem:
                self.log.error("%s", problem)
            else:
                self.log.warning("decision_log_file %s is written again", self.file)
            self.problem = problem


def _append(path: str, data: bytes) -> None:
    """Append to a regular file alone: opened without blocking (a FIFO with no reader must not
    stop the controller's event loop) and refused unless a regular file."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
