"""Errors of the learned routers that callers catch without importing torch."""
from __future__ import annotations


class CheckpointError(Exception):
    """A checkpoint cannot be used; ``path`` is the offending file and ``problem`` says why."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"checkpoint {self.path}: {problem}")
