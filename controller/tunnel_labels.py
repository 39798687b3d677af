"""Tunnel labels: one VLAN id per tunnel (switch path), the same on every switch of it.

The label is an 802.1Q VLAN id rather than an MPLS label because Open vSwitch's userspace
datapath sends frames through packet sockets, which accept a frame 4 bytes over the MTU when it
carries an 802.1Q tag but drop an MPLS one of the same size: MPLS would need a larger MTU on
every link. VLAN ids 1..4094 are enough for a few tunnels per switch pair of networks of GEANT's
size (1,386 tunnels); a decision that needs more gets :class:`LabelsExhausted`.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from controller.ofmsgs import MAX_LABEL, MIN_LABEL
from controller.splits import SwitchPath

LABEL_COUNT = MAX_LABEL - MIN_LABEL + 1


class LabelsExhausted(ValueError):
    """More tunnels than free VLAN ids."""


def allocate(paths: Iterable[SwitchPath], installed: Mapping[SwitchPath, int],
             held: Collection[int] = ()) -> dict[SwitchPath, int]:
    """A label for each of `paths`: an installed tunnel keeps its own; a new one gets the
    lowest id used neither by an installed tunnel nor in `held` (labels of tunnels still in
    the switches, e.g. until the plan that removes them is committed), so no switch ever sees
    one label on two paths."""
    paths = list(dict.fromkeys(paths))
    labels = {path: installed[path] for path in paths if path in installed}
    new = [path for path in paths if path not in labels]
    if not new:
        return labels
    taken = set(installed.values()) | set(held)
    free = (label for label in range(MIN_LABEL, MAX_LABEL + 1) if label not in taken)
    available = LABEL_COUNT - len(taken & set(range(MIN_LABEL, MAX_LABEL + 1)))
    if len(new) > available:
        raise LabelsExhausted(
            f"the decision needs {len(paths)} tunnels, {len(new)} of them new, but only "
            f"{available} of the {LABEL_COUNT} VLAN ids are free ({LABEL_COUNT - available} held "
            f"by tunnels installed or being replaced): give fewer candidate paths per switch pair")
    for path, label in zip(new, free):
        labels[path] = label
    return labels
