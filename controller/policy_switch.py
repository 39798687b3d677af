"""A run-time switch of the routing policy (REST ``PUT /qroute/v1/policy``): the request checked
and turned into the settings the new policy is built from, by the same rules as the config file.
"""
from __future__ import annotations

import dataclasses

from controller.settings import (CANDIDATE_PATH_POLICIES, CHOICES, LEARNED_POLICIES,
                                 TOPOLOGY_SPECIFIC_POLICIES, Settings, SettingsError, parse_settings)

POLICY_FIELDS = ("policy", "checkpoint", "split")
MAX_CHECKPOINT_CHARS = 4096
SOURCE = "PUT /qroute/v1/policy"


class ControlError(ValueError):
    """A control request that cannot be carried out, with what is wrong (answered 400)."""


def _as_config_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def switched_settings(body: object, settings: Settings) -> Settings:
    """The settings with the body's ``policy``, ``checkpoint`` and ``split`` (each optional,
    at least one; ``split``: true, false or "auto") in place, checked as the config file is.
    A policy that loads no checkpoint, or one of the other family (qnn/mlp against dote/figret),
    given without one, drops the configured checkpoint."""
    if not isinstance(body, dict):
        raise ControlError(f"the body must be a JSON object with any of {', '.join(POLICY_FIELDS)}")
    unknown = sorted(set(body) - set(POLICY_FIELDS))
    if unknown:
        raise ControlError(f"unknown field(s) {', '.join(map(repr, unknown))} "
                           f"(known: {', '.join(POLICY_FIELDS)})")
    if not body:
        raise ControlError(f"nothing to change: give any of {', '.join(POLICY_FIELDS)}")
    changes: dict[str, str] = {}
    if "policy" in body:
        if not isinstance(body["policy"], str) or body["policy"] not in CHOICES["policy"]:
            raise ControlError(f"'policy' must be one of {', '.join(CHOICES['policy'])}, "
                               f"not {body['policy']!r}")
        changes["policy"] = body["policy"]
        # a policy that loads no checkpoint, or another family's (a per-flow router's checkpoint
        # is no dote/figret one, nor the other way round), drops the configured one
        other_family = (body["policy"] in TOPOLOGY_SPECIFIC_POLICIES) != (settings.policy in
                                                                          TOPOLOGY_SPECIFIC_POLICIES)
        if (body["policy"] not in LEARNED_POLICIES or other_family) and "checkpoint" not in body:
            changes["checkpoint"] = ""
    if "checkpoint" in body:
        checkpoint = body["checkpoint"]
        if not isinstance(checkpoint, str) or len(checkpoint) > MAX_CHECKPOINT_CHARS or "\0" in checkpoint:
            raise ControlError("'checkpoint' must be a string: a .pt path or a shipped name such as "
                               "qnn-abilene ('' for the default)")
        changes["checkpoint"] = checkpoint
    if "split" in body:
        split = body["split"]
        if isinstance(split, bool):
            split = "true" if split else "false"
        elif split != "auto":
            raise ControlError(f"'split' must be true, false or \"auto\", not {body['split']!r}")
        changes["split"] = split
    wanted = dataclasses.replace(settings, **changes)
    raw = {field.name: _as_config_text(getattr(wanted, field.name))
           for field in dataclasses.fields(Settings)}
    if wanted.policy not in CANDIDATE_PATH_POLICIES:
        raw["tunnels"] = ""  # kept for a later switch back; unused meanwhile
    try:
        parse_settings(raw, source=SOURCE)
    except SettingsError as error:
        raise ControlError(str(error)) from None
    return wanted
