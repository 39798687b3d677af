"""The `[qroute]` options of `ryu-manager --config-file`, parsed and checked without Ryu.

Ryu reads the file through oslo.config, which ignores unknown keys and reports bad values only
when they are first read, deep inside a handler. A controller that starts with a typo in its
config silently runs with defaults, so everything is checked here at start-up instead.
"""
from __future__ import annotations

import configparser
import ipaddress
import os
import re
from dataclasses import dataclass, field, fields

from topologies.catalog import MININET_CAPACITY_SCALE, NAMED_TOPOLOGIES

SECTION = "qroute"


class SettingsError(ValueError):
    """Raised with every problem found, one per line."""


@dataclass(frozen=True)
class Settings:
    """The `[qroute]` options with their defaults. What each one means is documented once, in
    `controller/qroute.conf.example` (tests/test_settings_docs.py keeps the two in step)."""

    stats_interval: float = 2.0
    reoptimize_interval: float = 5.0
    reoptimize_above: float = 0.5
    link_capacity_mbps: float = 10.0
    routing_weight: str = "hops"
    topology: str = ""
    capacity_scale: float = MININET_CAPACITY_SCALE
    arp_flood_window: float = 1.0
    rest_api: bool = True
    metrics_port: int = 0
    metrics_bind: str = "127.0.0.1"
    policy: str = "shortest-path"
    checkpoint: str = ""
    keep_margin: float = 0.1
    min_gain: float = 0.05
    demand_hold: float = 0.0
    history_period: float = 0.0
    tunnels: str = ""
    split: str = "auto"
    api_token: str = field(default="", repr=False)  # the settings are logged at start-up
    api_token_file: str = "~/.qroute/api-token"
    decision_timeout: float = 3.0
    mlu_tolerance: float = 0.1
    max_moves: int = 0
    hold_down: float = 0.0
    max_hosts_per_port: int = 8
    max_hosts: int = 1024
    host_probe_timeout: float = 1.0
    packet_in_rate: int = 1000
    packet_in_port_budget: int = 200
    port_block_seconds: int = 10
    state_file: str = "~/.qroute/state.json"
    resync_timeout: float = 10.0
    barrier_timeout: float = 2.0
    local_protection: bool = True
    etcd_endpoint: str = ""
    controller_id: str = ""
    leader_ttl: int = 3
    decision_log_size: int = 200
    decision_log_file: str = ""


# the learned policies whose checkpoint routes only the network it was trained on (its input and
# output are that network's pairs): they need the topology the switches' dpids map to
TOPOLOGY_SPECIFIC_POLICIES = ("dote", "figret")
LEARNED_POLICIES = ("qnn", "mlp", *TOPOLOGY_SPECIFIC_POLICIES)  # the ones that load a checkpoint
# the ones that choose among candidate paths
CANDIDATE_PATH_POLICIES = ("qnn", "mlp", "milp", "lp", *TOPOLOGY_SPECIFIC_POLICIES)
SINGLE_PATH_POLICIES = ("milp",)  # the ones that cannot split a pair's traffic
CHOICES = {"routing_weight": ("hops", "utilisation", "ospf"),
           "policy": ("shortest-path", *CANDIDATE_PATH_POLICIES),
           "split": ("auto", "true", "false")}
POSITIVE = {"stats_interval", "reoptimize_interval", "link_capacity_mbps", "arp_flood_window",
            "capacity_scale", "decision_timeout", "max_hosts_per_port", "max_hosts",
            "host_probe_timeout", "port_block_seconds", "resync_timeout", "barrier_timeout",
            "decision_log_size"}
# 0 means no limit (or, for the packet-in limits, off)
NOT_NEGATIVE = {"demand_hold", "reoptimize_above", "history_period", "mlu_tolerance",
                "max_moves", "hold_down", "packet_in_rate", "packet_in_port_budget"}
ETCD_ENDPOINT = re.compile(r"(https?)://([^:/\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})/?")
SECTION_HEADER = re.compile(r"\[(.+)\]")  # as configparser reads section headers
OPTION_LINE = re.compile(r"([^=:]+)[=:]")
# shorter periods only spin the controller (statistics replies take longer than that to come back)
# a full ring is one REST answer: a few MB at most
MAX_DECISION_LOG_SIZE = 10000
SHORTEST_PERIOD_S = {"stats_interval": 0.1, "reoptimize_interval": 0.1}


def _convert(kind: type, text: str):
    text = text.strip()
    if kind is bool:
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ValueError("expected true or false")
    if kind is int:
        return int(text)
    if kind is float:
        value = float(text)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        return value
    return text


def parse_settings(raw: dict[str, str], source: str = "config",
                   origins: dict[str, str] | None = None) -> Settings:
    """Build Settings from the key/values of a [qroute] section; raise SettingsError naming
    every unknown key and every bad value (with the file in `origins[key]`, else `source`)."""
    known = {f.name: f for f in fields(Settings)}
    problems = []
    values = {}
    for key, text in raw.items():
        where = (origins or {}).get(key, source)
        name = key.replace("-", "_")
        if name not in known:
            problems.append(f"{where}: unknown option '{key}' in [{SECTION}] "
                            f"(known: {', '.join(sorted(known))})")
            continue
        kind = type(known[name].default)
        try:
            value = _convert(kind, str(text))
        except ValueError as error:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: {error}")
            continue
        if name in POSITIVE and value <= 0:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be greater than 0")
            continue
        if name in NOT_NEGATIVE and value < 0:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be 0 or more")
            continue
        if name == "port_block_seconds" and value > 65535:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be at most 65535 "
                            f"(an OpenFlow hard_timeout)")
            continue
        if name in SHORTEST_PERIOD_S and value < SHORTEST_PERIOD_S[name]:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be at least "
                            f"{SHORTEST_PERIOD_S[name]:g} s")
            continue
        if name in CHOICES and value not in CHOICES[name]:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be one of "
                            f"{', '.join(CHOICES[name])}")
            continue
        if name in ("keep_margin", "min_gain") and not 0 <= value <= 1:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be between 0 and 1")
            continue
        if name == "leader_ttl" and value < 2:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be at least 2 (etcd's "
                            f"shortest lease)")
            continue
        if name == "etcd_endpoint" and value and not ETCD_ENDPOINT.fullmatch(value):
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be http://HOST:PORT or "
                            f"https://HOST:PORT (etcd's client URL)")
            continue
        if name == "decision_log_size" and value > MAX_DECISION_LOG_SIZE:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be at most "
                            f"{MAX_DECISION_LOG_SIZE} (the ring is held in memory and served whole)")
            continue
        if name == "metrics_port" and not 0 <= value <= 65535:
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be 0..65535")
            continue
        if name == "metrics_bind" and not _is_ip_address(value):
            problems.append(f"{where}: [{SECTION}] {key} = {text!r}: must be an IP address "
                            f"(127.0.0.1, ::1, 0.0.0.0 for every IPv4 interface, or one of this "
                            f"machine's addresses; not a host name)")
            continue
        values[name] = value
    policy = values.get("policy", "shortest-path")
    if values.get("routing_weight") == "ospf" and not values.get("topology"):
        problems.append(f"{source}: [{SECTION}] routing_weight = ospf needs topology = "
                        f"{' | '.join(NAMED_TOPOLOGIES)} | <a topology file> to take the weights from")
    if values.get("split") == "true" and policy in SINGLE_PATH_POLICIES:
        problems.append(f"{(origins or {}).get('split', source)}: [{SECTION}] split = true: policy = "
                        f"{policy} routes every switch pair on one path (the single-path optimum); splitting "
                        f"needs policy = lp, qnn, mlp, dote, figret or shortest-path")
    if values.get("checkpoint") and policy not in LEARNED_POLICIES:
        problems.append(f"{(origins or {}).get('checkpoint', source)}: [{SECTION}] checkpoint is only "
                        f"used by policy = {', '.join(LEARNED_POLICIES[:-1])} or {LEARNED_POLICIES[-1]} "
                        f"(policy is {policy})")
    if policy in TOPOLOGY_SPECIFIC_POLICIES:
        problems += _topology_specific_problems(policy, values, origins or {}, source)
    tunnels = values.get("tunnels", "")
    if tunnels and policy not in CANDIDATE_PATH_POLICIES:
        problems.append(f"{(origins or {}).get('tunnels', source)}: [{SECTION}] tunnels are only "
                        f"used by policy = {', '.join(CANDIDATE_PATH_POLICIES)} (policy is {policy})")
        tunnels = ""
    elif tunnels and not values.get("topology"):
        problems.append(f"{(origins or {}).get('tunnels', source)}: [{SECTION}] tunnels needs topology = "
                        f"<the network whose node ids they use>")
    problems += _network_problems(values.get("topology", ""), tunnels, origins or {}, source)
    if problems:
        raise SettingsError("\n".join(problems))
    return Settings(**values)


def _topology_specific_problems(policy: str, values: dict, origins: dict[str, str], source: str) -> list[str]:
    """A dote/figret checkpoint's inputs and outputs are the pairs of the network it was trained
    on: the controller must be told that network, for its switches' dpids to map to those pairs."""
    where = origins.get("policy", source)
    topology = values.get("topology", "")
    if not topology:
        return [f"{where}: [{SECTION}] policy = {policy} needs topology = {' | '.join(NAMED_TOPOLOGIES)} | "
                f"<a topology file>: a {policy} checkpoint routes only the network it was trained on, "
                f"whose node i is switch dpid i + 1"]
    if topology not in NAMED_TOPOLOGIES and not values.get("checkpoint"):
        return [f"{where}: [{SECTION}] policy = {policy} with topology = {topology!r} needs checkpoint = "
                f"<a {policy} checkpoint trained on that network> (the shipped ones route only "
                f"{' or '.join(NAMED_TOPOLOGIES)})"]
    return []


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _network_problems(topology: str, tunnels: str, origins: dict[str, str], source: str) -> list[str]:
    """Reads the configured topology (and tunnels) as the controller will, so that a missing or
    malformed file stops it at start-up instead of leaving it without the facts it was given."""
    from topologies.catalog import link_facts, tunnel_paths

    if not topology:
        return []
    where = origins.get("topology", source)
    if topology not in NAMED_TOPOLOGIES and not os.path.isfile(topology):
        return [f"{where}: [{SECTION}] topology = {topology!r}: must be one of "
                f"{', '.join(NAMED_TOPOLOGIES)}, or an existing topology file (no file there)"]
    try:
        link_facts(topology, 1.0)
    except (OSError, ValueError) as error:  # DataFormatError names the file and line
        return [f"{where}: [{SECTION}] topology = {topology!r}: {error}"]
    if tunnels:
        where = origins.get("tunnels", source)
        if not os.path.isfile(tunnels):
            return [f"{where}: [{SECTION}] tunnels = {tunnels!r}: no such file"]
        try:
            tunnel_paths(topology, tunnels)
        except (OSError, ValueError) as error:
            return [f"{where}: [{SECTION}] tunnels = {tunnels!r}: {error}"]
    return []


def _read_config(path: str) -> configparser.ConfigParser:
    """One config file, read as oslo.config reads it (repeats allowed), except that an option
    given twice in [qroute] is an error: the last one would silently win."""
    # [DEFAULT] holds ryu's own options; oslo.config does not fold it into [qroute], so
    # neither do we: a section name no file can use keeps configparser from folding it.
    parser = configparser.ConfigParser(interpolation=None, strict=False,
                                       default_section="\0 no default section")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        parser.read_string(text, source=path)
    except (OSError, UnicodeDecodeError, configparser.Error) as error:
        raise SettingsError(f"{path}: cannot read config file: {error}") from error
    seen: dict[str, int] = {}
    section = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        header = SECTION_HEADER.match(line)
        if header:
            section = header.group(1)
        elif section == SECTION and line[:1] not in ("", " ", "\t", "#", ";") and \
                (option := OPTION_LINE.match(line)):
            name = parser.optionxform(option.group(1).strip()).replace("-", "_")
            if name in seen:
                raise SettingsError(f"{path}:{lineno}: [{SECTION}] sets {name} again "
                                    f"(first on line {seen[name]})")
            seen[name] = lineno
    return parser


def read_settings(config_files: list[str]) -> Settings:
    """Read the [qroute] section of each file, later files overriding earlier ones."""
    raw: dict[str, str] = {}
    origins: dict[str, str] = {}
    sources = []
    for path in config_files:
        parser = _read_config(path)
        near_misses = [name for name in parser.sections()
                       if name != SECTION and name.strip().lower() == SECTION]
        if near_misses:  # its options would be silently ignored
            raise SettingsError(f"{path}: section [{near_misses[0]}] is not [{SECTION}] "
                                f"(section names are exact: lower case, no spaces)")
        if parser.has_section(SECTION):
            section = dict(parser.items(SECTION, raw=True))
            overridden = {key.replace("-", "_") for key in section}
            for key in [key for key in raw if key.replace("-", "_") in overridden]:
                del raw[key]  # however an earlier file spelled it
            raw.update(section)
            origins.update(dict.fromkeys(section, path))  # a message names the file at fault
            sources.append(path)
    return parse_settings(raw, source=", ".join(sources) or "config", origins=origins)


def wanted_split(settings: Settings) -> bool | None:
    """Whether the policy splits a pair's traffic over several paths: as set, else (``auto``)
    yes for ``lp``, no for ``shortest-path`` and ``milp``, and None for a learned policy, whose
    checkpoint decides (split unless it was trained for one path per pair)."""
    if settings.split != "auto":
        return settings.split == "true"
    if settings.policy in LEARNED_POLICIES:
        return None
    return settings.policy == "lp"


def default_checkpoint(settings: Settings) -> str:
    """The checkpoint a learned policy loads: the configured one, else the shipped checkpoint of
    the configured network when it is a named one, else abilene's (the REST view's policy then
    says which network it was trained on): the one trained for split ratios, or with
    ``split = false`` the one trained for one path per pair. A topology-specific policy (dote,
    figret) has a default only on a named network: ``{policy}-{topology}``; else ""."""
    if settings.checkpoint:
        return settings.checkpoint
    from qnn.models.checkpoint import shipped_checkpoint, shipped_name

    if settings.policy in TOPOLOGY_SPECIFIC_POLICIES:  # no other network's checkpoint would do
        named = settings.topology in NAMED_TOPOLOGIES
        return shipped_name(settings.policy, settings.topology) if named else ""

    network = settings.topology if settings.topology in NAMED_TOPOLOGIES else "abilene"
    return shipped_checkpoint(settings.policy, network, single_path=settings.split == "false")


def etcd_address(endpoint: str) -> tuple[str, str, int]:
    """(protocol, host, port) of an etcd_endpoint the settings accepted."""
    protocol, host, port = ETCD_ENDPOINT.fullmatch(endpoint).groups()
    return protocol, host.strip("[]"), int(port)
