"""What qroute has installed as switch-pair tunnels, and the steps from a decision to it.

Traffic entering at switch i for a host behind switch j is the demand of the pair (i, j). The
policy gives each pair a split: a few switch paths (tunnels) with weights. At i, one select
group per egress j (named after j: :mod:`controller.group_ids`) has a bucket per tunnel,
weighted by the split, that tags the frame with the tunnel's label
(:mod:`controller.tunnel_labels`) and sends it on the first hop; every transit switch forwards
by label, the egress pops it and delivers by destination MAC. Rules on a switch thus grow
with the hosts attached to it and the tunnels through it, not with host pairs
(:mod:`controller.ofmsgs` has the tables and priorities).

A decision goes through :class:`InstalledTunnels` in order: :meth:`~InstalledTunnels.resolve`
turns the decided splits into rules and groups on the live network (:class:`Desired`),
:meth:`~InstalledTunnels.diff` says what that changes, :meth:`~InstalledTunnels.plan` gives the
phased messages (:mod:`controller.tunnel_plan`), and once they are sent
:meth:`~InstalledTunnels.commit` records the result. Switches can reconnect and links go down at
any time; a reconnecting switch keeps its rules, which are read back
(:mod:`controller.readback`) and taken as installed by :meth:`~InstalledTunnels.adopt`, and
:meth:`~InstalledTunnels.links_down` keeps the record true to what the switches hold.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from controller import ofmsgs
from controller.group_ids import GroupNames
from controller.protection import protect
from controller.readback import SwitchEntries, UnnamedGroups
from controller.tunnel_labels import allocate
from controller.netstate import NetworkState
from controller.splits import Link, Message, Pair, Split, SwitchPath
from controller.tunnel_plan import Plan, plan_phases

Bucket = ofmsgs.Bucket                     # (label, weight, first-hop out port)
GROUP, PORT = "group", "port"              # where a classification rule sends a frame
WEIGHT_SCALE = 1000                        # bucket weight = round(WEIGHT_SCALE * share), >= 1
BASE_RULES = len(ofmsgs.base_rules())      # on every switch, outside any decision
# the fields of Desired that are one switch's entries, keyed (dpid, key), and read back as such
# (controller.readback.SwitchEntries has a field of the same name keyed without the dpid)
SWITCH_FIELDS = ("tunnel_rules", "groups", "classify", "delivery", "protection")

__all__ = ["BASE_RULES", "Change", "Desired", "InstalledTunnels", "Plan", "RuleCount",
           "bucket_weight", "rule_counts"]


@dataclass(frozen=True)
class Desired:
    """Rules and groups realising a set of splits (also what is installed: the record).

    `tunnel_rules`: (dpid, label) -> out port on a transit switch, None at the egress;
    `groups`: (ingress, egress) pair -> its buckets; `classify`: (dpid, mac) -> (GROUP, egress)
    or (PORT, port) for untagged frames in table 0; `delivery`: (dpid, mac) -> port in table 1.
    Local protection (:mod:`controller.protection`): `backups`, backup path -> its label (its
    rules are in `tunnel_rules`, unprotected); `protection`, (dpid, label) -> (out port, backup
    label, backup's first port, whether that is the port the hop's frames come in by): the
    fast-failover group ``ofmsgs.ff_group_id(label)`` on dpid,
    which the tunnel's hop there (its transit rule, or at the ingress its select bucket) goes
    through; the out port is the one `tunnel_rules` or the bucket names."""

    splits: dict[Pair, Split] = field(default_factory=dict)
    labels: dict[SwitchPath, int] = field(default_factory=dict)
    tunnel_rules: dict[tuple[int, int], int | None] = field(default_factory=dict)
    groups: dict[Pair, tuple[Bucket, ...]] = field(default_factory=dict)
    classify: dict[tuple[int, str], tuple[str, int]] = field(default_factory=dict)
    delivery: dict[tuple[int, str], int] = field(default_factory=dict)
    backups: dict[SwitchPath, int] = field(default_factory=dict)
    protection: dict[tuple[int, int], ofmsgs.Protection] = field(default_factory=dict)
    unprotected: tuple[tuple[int, int], ...] = ()  # hops with a backup path but no free label

    def protected_labels(self, dpid: int) -> set[int]:
        """Labels whose hop on `dpid` goes through a fast-failover group."""
        return {label for switch, label in self.protection if switch == dpid}

    def without_switches(self, dpids: Iterable[int]) -> Desired:
        """The record minus everything on `dpids` (forgotten there until read back). A pair
        whose ingress group went loses its split; tunnels keep their labels while a rule or
        bucket anywhere still uses them, so that a later plan deletes what is left of them
        elsewhere."""
        gone = set(dpids)
        groups = {pair: buckets for pair, buckets in self.groups.items() if pair[0] not in gone}
        tunnel_rules = {key: port for key, port in self.tunnel_rules.items() if key[0] not in gone}
        protection = {key: spec for key, spec in self.protection.items() if key[0] not in gone}
        used = {label for _, label in tunnel_rules} | {
            spec[0] for buckets in groups.values() for spec in buckets} | {
            label for _, label in protection} | {spec[1] for spec in protection.values()}
        return Desired(
            splits={pair: split for pair, split in self.splits.items() if pair in groups},
            labels={path: label for path, label in self.labels.items() if label in used},
            tunnel_rules=tunnel_rules, groups=groups,
            classify={key: to for key, to in self.classify.items() if key[0] not in gone},
            delivery={key: port for key, port in self.delivery.items() if key[0] not in gone},
            backups={path: label for path, label in self.backups.items() if label in used},
            protection=protection,
            unprotected=tuple(hop for hop in self.unprotected if hop[0] not in gone))


@dataclass(frozen=True)
class Change:
    """What a decision changes: pairs `new`, `rerouted` (their set of paths changed),
    `reweighted` (same paths, other bucket weights) and `dropped`; hosts `added`, `moved` and
    `gone`; and `entries`, every rule and group added, changed or removed (also those put back
    on a switch read back)."""

    new: list[Pair] = field(default_factory=list)
    rerouted: list[Pair] = field(default_factory=list)
    reweighted: list[Pair] = field(default_factory=list)
    dropped: list[Pair] = field(default_factory=list)
    hosts_added: list[str] = field(default_factory=list)
    hosts_moved: list[str] = field(default_factory=list)
    hosts_gone: list[str] = field(default_factory=list)
    entries: int = 0

    def __bool__(self) -> bool:
        return self.entries > 0


@dataclass(frozen=True)
class RuleCount:
    """qroute's flow rules (tunnel, backup tunnel, classification and delivery; the BASE_RULES
    every switch has are not counted), groups (select and fast-failover) and their buckets (a
    fast-failover group has two) on one switch."""

    flow_rules: int = 0
    groups: int = 0
    buckets: int = 0


def bucket_weight(share: float) -> int:
    return max(1, round(WEIGHT_SCALE * share))


def _normalised(split: Iterable[tuple[SwitchPath, float]]) -> Split:
    merged: dict[SwitchPath, float] = {}
    for path, weight in split:
        if weight > 0:
            merged[tuple(path)] = merged.get(tuple(path), 0.0) + weight
    total = sum(merged.values())
    return tuple((path, weight / total) for path, weight in merged.items()) if total > 0 else ()


def _intact(path: SwitchPath, pair: Pair, links: Mapping[Link, object]) -> bool:
    return (len(path) >= 2 and path[0] == pair[0] and path[-1] == pair[1]
            and len(set(path)) == len(path)
            and all((here, there) in links for here, there in zip(path, path[1:])))


def _path_links(path: SwitchPath) -> set[Link]:
    return set(zip(path, path[1:]))


def _dict_changes(old: Mapping, new: Mapping) -> int:
    return sum(1 for key in new if old.get(key, _MISSING) != new[key]) + sum(
        1 for key in old if key not in new)


_MISSING = object()


class InstalledTunnels:
    """The record of what is installed (a :class:`Desired`), the epoch of the decision that
    installed it, and, while a plan is under way (:meth:`plan` to :meth:`commit`), the
    switches reconnected and links gone down since it was made. `protect`: give every tunnel
    hop a backup tunnel and fast-failover group (:mod:`controller.protection`)."""

    def __init__(self, protect: bool = False, names: GroupNames | None = None):
        self.protect = protect
        self.names = names or GroupNames()  # the switches select group ids are named after
        # read-back select groups named after no known switch (controller.group_ids): the
        # labels they push are held like the record's labels without a path
        self.unnamed = UnnamedGroups()
        self.epoch = 0
        self.record = Desired()
        self.pending: Desired | None = None
        self.wiped: set[int] = set()
        self.broken: set[Link] = set()
        self.touched: set[Pair] = set()  # groups links_down modified while a plan was under way
        # path -> label (and pair -> split) of tunnels installed now or before, e.g. loaded from
        # the state file: how labels read back from a switch are known as paths again
        self.known = Desired()
        # switches the last plan left unsure (reconnected meanwhile, or the plan stopped): read
        # them again
        self.reread: list[int] = []

    @property
    def splits(self) -> dict[Pair, Split]:
        return self.record.splits

    @property
    def labels(self) -> dict[SwitchPath, int]:
        return self.record.labels

    # --- a decision -----------------------------------------------------------------------
    def resolve(self, decided: Mapping[Pair, Split], state: NetworkState) -> Desired:
        """The rules and groups for the decided splits on the network as it is now (links fail
        and hosts move while a decision runs). A path whose links vanished leaves its split
        (the rest renormalised); a pair left with none keeps its installed split if that is
        intact, else gets nothing. Pairs whose switches no longer both have hosts get
        nothing, nor do pairs towards a switch whose select group id another switch claimed
        first (:mod:`controller.group_ids`; the app says so when the switch connects). With
        protection, a pair whose installed tunnels broke too but are all bypassed by the
        switches (each broken one's first dead hop protected by an intact backup) keeps what
        is installed for it as it is, backups included: a link that fails while a decision
        runs must not take the pair's group away before the decision it asks for.
        LabelsExhausted if the tunnels need more labels than are free."""
        links = state.links
        live_pairs = set(state.switch_pairs())
        splits: dict[Pair, Split] = {}
        carried: dict[Pair, Split] = {}
        for pair, split in sorted(decided.items()):
            if pair not in live_pairs or not self.names.nameable(pair[1]):
                continue
            kept = _normalised((path, w) for path, w in split if _intact(tuple(path), pair, links))
            installed = self.record.splits.get(pair, ())
            if not kept and installed and all(_intact(path, pair, links) for path, _ in installed):
                kept = installed
            if not kept and installed and self.protect and all(
                    _intact(path, pair, links) or self._bypassed(path, links) for path, _ in installed):
                carried[pair] = installed
            if kept:
                splits[pair] = kept
        carried_paths = {path for split in carried.values() for path, _ in split}
        paths = [path for split in splits.values() for path, _ in split] + sorted(carried_paths)
        # backups still installed keep their labels from new tunnels until a plan removes them
        labels = allocate(paths, self.record.labels,
                          held=self.held_labels() | set(self.record.backups.values()))
        protected = protect({path: label for path, label in labels.items() if path not in carried_paths},
                            links, self.record.backups,
                            held=set(labels.values()) | set(self.record.labels.values())
                            | self.held_labels()
                            ) if self.protect else None
        backups = dict(protected.backups) if protected else {}
        protection = dict(protected.protection) if protected else {}
        carried_labels = {labels[path] for path in carried_paths}
        backup_of = {label: path for path, label in self.record.backups.items()}
        for (dpid, label), spec in self.record.protection.items():
            backup = backup_of.get(spec[1])
            if label in carried_labels and backup and _intact(backup, (backup[0], backup[-1]), links):
                protection[(dpid, label)] = spec
                backups[backup] = spec[1]
        tunnel_rules: dict[tuple[int, int], int | None] = {}
        # a backup's label is its own even where its path is also a tunnel's
        for path, label in [*labels.items(), *backups.items()]:
            if path in carried_paths and labels.get(path) == label:
                tunnel_rules.update((key, self.record.tunnel_rules[key]) for key in
                                    ((dpid, label) for dpid in path[1:])
                                    if key in self.record.tunnel_rules)
                continue
            for position, dpid in enumerate(path[1:], start=1):
                last = position == len(path) - 1
                out_port = None if last else links[(dpid, path[position + 1])].src_port
                tunnel_rules[(dpid, label)] = out_port
        groups = {pair: tuple((labels[path], bucket_weight(share), links[(path[0], path[1])].src_port)
                              for path, share in split)
                  for pair, split in splits.items()}
        for pair, split in carried.items():
            splits[pair], groups[pair] = split, self.record.groups[pair]
        self._keep_what_unnamed_groups_use(tunnel_rules, protection)
        classify: dict[tuple[int, str], tuple[str, int]] = {}
        delivery: dict[tuple[int, str], int] = {}
        with_hosts = {host.dpid for host in state.hosts.values()}
        for mac, host in sorted(state.hosts.items()):
            delivery[(host.dpid, mac)] = host.port
            for ingress in with_hosts:
                if ingress == host.dpid:
                    classify[(ingress, mac)] = (PORT, host.port)
                elif (ingress, host.dpid) in splits:
                    classify[(ingress, mac)] = (GROUP, host.dpid)
        return Desired(splits, labels, tunnel_rules, groups, classify, delivery, backups,
                       protection, tuple(protected.unprotected) if protected else ())

    def _keep_what_unnamed_groups_use(self, tunnel_rules: dict, protection: dict) -> None:
        """The tunnels a read-back select group named after no known switch sends into stay
        as they are, rules and fast-failover groups on every switch (backups included),
        until the group is adopted or deleted (:class:`readback.UnnamedGroups`): its traffic
        goes on arriving meanwhile, and no group is deleted while a bucket points at it."""
        labels = self.unnamed.labels()
        if not labels:
            return
        kept = {key: spec for key, spec in self.record.protection.items() if key[1] in labels}
        labels |= {spec[1] for spec in kept.values()}
        for key, spec in kept.items():
            protection.setdefault(key, spec)
        for key, port in self.record.tunnel_rules.items():
            if key[1] in labels:
                tunnel_rules.setdefault(key, port)

    def _bypassed(self, path: SwitchPath, links: Mapping[Link, object]) -> bool:
        """Whether the switches carry an installed tunnel past its first dead hop: that hop is
        protected and its backup intact."""
        label = self.record.labels.get(path)
        backup_of = {label: backup for backup, label in self.record.backups.items()}
        for here, there in zip(path, path[1:]):
            if (here, there) in links:
                continue
            spec = self.record.protection.get((here, label))
            backup = backup_of.get(spec[1]) if spec else None
            return backup is not None and _intact(backup, (here, path[-1]), links)
        return True

    def diff(self, desired: Desired) -> Change:
        old = self.record
        old_paths = {pair: {path for path, _ in split} for pair, split in old.splits.items()}
        new_paths = {pair: {path for path, _ in split} for pair, split in desired.splits.items()}
        kept = [pair for pair in desired.splits if pair in old.splits]
        old_hosts = {mac: (dpid, port) for (dpid, mac), port in old.delivery.items()}
        new_hosts = {mac: (dpid, port) for (dpid, mac), port in desired.delivery.items()}
        entries = sum(_dict_changes(getattr(old, name), getattr(desired, name))
                      for name in ("tunnel_rules", "groups", "classify", "delivery", "protection"))
        return Change(
            new=sorted(pair for pair in desired.splits if pair not in old.splits),
            rerouted=sorted(pair for pair in kept if old_paths[pair] != new_paths[pair]),
            reweighted=sorted(pair for pair in kept if old_paths[pair] == new_paths[pair]
                              and old.groups.get(pair) != desired.groups[pair]),
            dropped=sorted(pair for pair in old.splits if pair not in desired.splits),
            hosts_added=sorted(mac for mac in new_hosts if mac not in old_hosts),
            hosts_moved=sorted(mac for mac in new_hosts if mac in old_hosts
                               and old_hosts[mac] != new_hosts[mac]),
            hosts_gone=sorted(mac for mac in old_hosts if mac not in new_hosts),
            entries=entries)

    def plan(self, desired: Desired) -> Plan:
        """The phased messages from what is installed to `desired`, under a new epoch. From
        here until :meth:`commit` a reconnecting switch or a link going down is remembered:
        the switches may then hold other than what the plan says."""
        self.epoch += 1
        self.wiped.clear()
        self.broken.clear()
        self.pending = desired
        return plan_phases(self.record, desired, self.epoch)

    def commit(self, desired: Desired) -> list[Message]:
        """Record `desired` as installed once its plan was sent, and return what makes the
        switches hold exactly that: groups with buckets over links that went down meanwhile
        are modified to drop those buckets. A switch that reconnected meanwhile may have missed
        what the plan sent it before: it is recorded empty and listed in :attr:`reread`, to be
        read back again (and adopted) before the next decision."""
        record, messages = desired, []
        if self.broken:
            record, messages = _drop_broken(record, self.broken)
            # a group links_down changed during the plan holds what it made of the old record;
            # it must hold the new record's buckets (those already re-sent above aside)
            sent = {(dpid, self.names.egress(m.group_id)) for dpid, m in messages}
            messages += [(ingress, ofmsgs.group_modify(egress, record.groups[(ingress, egress)],
                                                       record.protected_labels(ingress)))
                         for ingress, egress in sorted(self.touched - sent)
                         if (ingress, egress) in record.groups]
        if self.wiped:
            record = record.without_switches(self.wiped)
            messages = [(dpid, m) for dpid, m in messages if dpid not in self.wiped]
        self.reread = sorted(self.wiped)
        self.record, self.pending = record, None
        self._remember(record)
        self._end_plan()
        return messages

    def abort(self, sent_to: Iterable[int]) -> None:
        """A plan stopped part way (a switch did not confirm a phase in time), its later phases
        not sent. The switches it sent anything to hold the record plus part of the plan; they
        are recorded empty and listed in :attr:`reread`, to be read back (and adopted) before
        the next decision, which goes on from what they hold. The other switches hold the
        record as it was (with what :meth:`links_down` did to it meanwhile). The plan's labels
        are remembered, so that its tunnels read back are known as their paths again."""
        unsure = set(sent_to) | self.wiped
        if self.pending is not None:
            self._remember(self.pending)
        self.record, self.pending = self.record.without_switches(unsure), None
        self.reread = sorted(unsure)
        self._end_plan()

    def _end_plan(self) -> None:
        self.wiped.clear()
        self.broken.clear()
        self.touched.clear()

    # --- read-back ------------------------------------------------------------------------
    def remember(self, labels: Mapping[SwitchPath, int], splits: Mapping[Pair, Split],
                 backups: Mapping[SwitchPath, int] | None = None) -> None:
        """Paths, labels, splits and backup tunnels installed earlier (the state file's):
        read-back labels are known as these paths again."""
        self.known = Desired(splits=dict(splits), labels=dict(labels), backups=dict(backups or {}))
        self._remember(self.record)

    def _remember(self, record: Desired) -> None:
        def merged(known: Mapping[SwitchPath, int], now: Mapping[SwitchPath, int]) -> dict:
            out = {path: label for path, label in known.items()
                   if path not in now and label not in set(now.values())}
            out.update(now)
            return out

        self.known = Desired(splits={**self.known.splits, **record.splits},
                             labels=merged(self.known.labels, record.labels),
                             backups=merged(self.known.backups, record.backups))

    def held_labels(self) -> set[int]:
        """Labels a rule or bucket in the record uses without a known path (read back from a
        switch): no new tunnel may get one until the rules holding it are gone."""
        record = self.record
        used = {label for _, label in record.tunnel_rules} | {
            spec[0] for buckets in record.groups.values() for spec in buckets} | {
            spec[1] for spec in record.protection.values()}
        return (used | self.unnamed.labels()) - set(record.labels.values()) - set(record.backups.values())

    def switch_reconnected(self, dpid: int) -> None:
        """A switch (re)connected: what it holds is read back and adopted; a plan under way
        may have lost messages to it, so its commit has it read again."""
        if self.pending is not None:
            self.wiped.add(dpid)

    def adopt(self, entries: SwitchEntries, now: float) -> None:
        """Take what a switch was read back holding as its part of the record. A label it uses
        gets its known path back (:meth:`remember`); a select group whose every bucket's
        label is a known path from this switch to the group's egress gives the pair's split
        (the known shares when the bucket weights are theirs, else the weights'). Labels
        without a path stay held (:meth:`held_labels`), as do those of its select groups named
        after no known switch (:attr:`unnamed`, read back at `now`). The epoch goes past every
        cookie's."""
        dpid = entries.dpid
        self.unnamed.read_back(entries, now)
        base = self.record.without_switches({dpid})
        # each per-switch field of the record, keyed (dpid, key), from the same field read back
        per_switch = {name: {**getattr(base, name),
                             **{(dpid, key): value for key, value in getattr(entries, name).items()}}
                      for name in SWITCH_FIELDS}
        tunnel_rules, groups = per_switch["tunnel_rules"], per_switch["groups"]
        labels, backups = dict(base.labels), dict(base.backups)
        taken = set(labels.values()) | set(backups.values())
        path_of = {label: path for path, label in self.known.labels.items()}
        backup_path_of = {label: path for path, label in self.known.backups.items()}
        used = {label for _, label in tunnel_rules} | {
            spec[0] for buckets in groups.values() for spec in buckets} | {
            spec[1] for spec in per_switch["protection"].values()}
        for label in sorted(used - taken):
            path = backup_path_of.get(label)
            if path is not None and path not in backups:
                backups[path] = label
                continue
            path = path_of.get(label)
            if path is not None and path not in labels:
                labels[path] = label
        path_of = {label: path for path, label in labels.items()}
        splits = dict(base.splits)
        for egress, buckets in entries.groups.items():
            split = self._split_of((dpid, egress), buckets, path_of)
            if split:
                splits[(dpid, egress)] = split
        self.record = replace(base, splits=splits, labels=labels, backups=backups, **per_switch)
        self.epoch = max(self.epoch, entries.epoch)

    def trace(self, links: Mapping[Link, object]) -> int:
        """Paths for held labels (read back without a known path, e.g. no state file),
        followed from each bucket through the tunnel rules over `links` (each with its
        ``src_port``) to the group's egress; the pairs whose every bucket is now a known path
        get their split back. Returns how many labels got a path."""
        record = self.record
        next_switch = {(src, ports.src_port): dst for (src, dst), ports in links.items()}
        held, found = self.held_labels(), {}
        for (ingress, egress), buckets in sorted(record.groups.items()):
            for label, _, port in buckets:
                if label not in held or label in found.values():
                    continue
                path = _follow(record, next_switch, ingress, port, label)
                if path and path[-1] == egress and path not in record.labels:
                    found[path] = label
        backups = {}
        for (switch, _), (_, backup_label, backup_port, _) in sorted(record.protection.items()):
            if backup_label not in held or backup_label in found.values() or \
                    backup_label in backups.values():
                continue
            path = _follow(record, next_switch, switch, backup_port, backup_label)
            if path and path not in record.backups:
                backups[path] = backup_label
        if not found and not backups:
            return 0
        labels = {**record.labels, **found}
        path_of = {label: path for path, label in labels.items()}
        splits = dict(record.splits)
        for pair, buckets in record.groups.items():
            if pair not in splits:
                split = self._split_of(pair, buckets, path_of)
                if split:
                    splits[pair] = split
        self.record = replace(record, labels=labels, splits=splits,
                              backups={**record.backups, **backups})
        self._remember(self.record)
        return len(found) + len(backups)

    def _split_of(self, pair: Pair, buckets, path_of: Mapping[int, SwitchPath]) -> Split:
        paths = [path_of.get(label) for label, _, _ in buckets]
        if any(path is None or path[0] != pair[0] or path[-1] != pair[1] for path in paths):
            return ()
        known = self.known.splits.get(pair, ())
        if [path for path, _ in known] == paths and all(
                bucket_weight(share) == weight for (_, share), (_, weight, _) in zip(known, buckets)):
            return tuple(known)
        return _normalised((path, weight) for path, (_, weight, _) in zip(paths, buckets))

    # --- events ---------------------------------------------------------------------------
    def links_down(self, links: Iterable[Link]) -> list[Message]:
        """Group modifications, to send at once, that drop the buckets of tunnels over `links`
        (directed; give both directions of a failed cable), recorded as installed. A pair left
        without any intact tunnel keeps its group: it needs a new decision, which the failure
        asks for anyway. While a plan is under way the remaining buckets are taken from the
        tunnels both the record and the plan keep where there are any (those are in the
        switches whichever phase was sent last), and :meth:`commit` corrects the groups the
        plan sent."""
        down = set(links)
        if not down:
            return []
        prefer = set(self.pending.labels.values()) if self.pending is not None else None
        if self.pending is not None:
            self.broken |= down
        # a bucket may only go through a fast-failover group that is there whichever phase
        # was sent last: one the plan deletes would take the bucket (or the switch refuse it)
        through = set(self.record.protection)
        if self.pending is not None:
            through &= set(self.pending.protection)
        self.record, messages = _drop_broken(self.record, down, prefer, through)
        if self.pending is not None:
            self.touched.update((dpid, self.names.egress(m.group_id)) for dpid, m in messages)
        return messages

    def group_pair(self, dpid: int, group_id: int) -> Pair | None:
        """The pair whose select group `group_id` is on switch `dpid` (for group statistics)."""
        pair = (dpid, self.names.egress(group_id))
        return pair if pair in self.record.groups else None


def _follow(record: Desired, next_switch: Mapping[tuple[int, int], int], start: int, port: int,
            label: int) -> SwitchPath:
    """The switch path a frame tagged `label` leaving `start` by `port` takes through the
    record's tunnel rules to the switch that pops it (() where a rule is missing or it loops)."""
    path, out = [start], port
    while out is not None:
        there = next_switch.get((path[-1], out))
        if there is None or there in path or (there, label) not in record.tunnel_rules:
            return ()
        path.append(there)
        out = record.tunnel_rules[(there, label)]
    return tuple(path)


def _drop_broken(record: Desired, down: set[Link], prefer: set[int] | None = None,
                 through: set[tuple[int, int]] | None = None) -> tuple[Desired, list[Message]]:
    """`record` with the buckets of tunnels over `down` links removed from the groups (the
    remaining shares renormalised), and the group modifications that do it; a bucket goes
    through its fast-failover group where (ingress, label) is in `through` (default: where the
    record protects the hop)."""
    through = set(record.protection) if through is None else through
    splits, groups, messages = dict(record.splits), dict(record.groups), []
    for pair, split in sorted(record.splits.items()):
        intact = [(path, share) for path, share in split if not _path_links(path) & down]
        if len(intact) == len(split) or not intact:
            continue
        if prefer is not None:
            both = [(path, share) for path, share in intact if record.labels[path] in prefer]
            intact = both or intact
        new_split = _normalised(intact)
        port_of = {spec[0]: spec[2] for spec in record.groups[pair]}
        buckets = tuple((record.labels[path], bucket_weight(share), port_of[record.labels[path]])
                        for path, share in new_split)
        splits[pair], groups[pair] = new_split, buckets
        messages.append((pair[0], ofmsgs.group_modify(
            pair[1], buckets, {label for label, _, _ in buckets if (pair[0], label) in through})))
    return replace(record, splits=splits, groups=groups), messages


def rule_counts(tunnels: Desired | InstalledTunnels) -> dict[int, RuleCount]:
    """Flow rules, groups and buckets per switch of a decision's rules or of the record."""
    record = tunnels.record if isinstance(tunnels, InstalledTunnels) else tunnels
    rules: dict[int, int] = {}
    for dpid, _ in [*record.tunnel_rules, *record.classify, *record.delivery]:
        rules[dpid] = rules.get(dpid, 0) + 1
    groups: dict[int, list[int]] = {}
    for (ingress, _), buckets in record.groups.items():
        groups.setdefault(ingress, []).append(len(buckets))
    for dpid, _ in record.protection:
        groups.setdefault(dpid, []).append(2)
    return {dpid: RuleCount(rules.get(dpid, 0), len(groups.get(dpid, ())), sum(groups.get(dpid, ())))
            for dpid in sorted(rules.keys() | groups.keys())}
