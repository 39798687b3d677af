"""The words the controller's decision and data-plane code share, as types."""
from __future__ import annotations

Pair = tuple[int, int]                        # (ingress dpid, egress dpid): a switch pair's demand
SwitchPath = tuple[int, ...]                  # dpids from ingress to egress, loop-free
Split = tuple[tuple[SwitchPath, float], ...]  # a pair's paths with weights > 0 summing to 1
Link = tuple[int, int]                        # a directed link (src dpid, dst dpid)
Message = tuple[int, object]                  # (dpid, an OpenFlow message built without a datapath)
