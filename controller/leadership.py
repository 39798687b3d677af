"""Which of several qroute controllers is the master, decided by etcd rather than among
themselves.

Every controller campaigns for one key, `LEADER_KEY`, bound to a lease of `ttl_s` seconds: the
first to create the key leads; it keeps the key only while it refreshes the lease, so a master
that dies (or loses etcd) loses the key within `ttl_s`, and the next campaign wins it. The key's
create revision, which etcd only ever increases, is the term's generation: the OpenFlow 1.3
generation id the master asserts to the switches, so that a switch refuses a deposed master's
role request as stale.

Time comes in as arguments; etcd is reached through a well-kept client (etcd3gw, etcd's v3 HTTP
gateway), passed in so that the app and the tests choose it.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

LEADER_KEY = "/qroute/leader"


@dataclass(frozen=True)
class Term:
    """Who leads (`holder`, a controller's id; "" when nobody does) and the generation of the
    term; `leading` is whether that is this controller."""

    leading: bool
    holder: str
    generation: int


NOBODY = Term(False, "", 0)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Leadership:
    """One controller's campaign: call :meth:`step` every ``ttl_s / 3`` or so."""

    def __init__(self, client, instance_id: str, ttl_s: int = 3, key: str = LEADER_KEY):
        if ttl_s < 2:
            raise ValueError(f"leader lease ttl {ttl_s} s: etcd needs at least 2")
        self.client, self.instance_id, self.ttl_s, self.key = client, instance_id, ttl_s, key
        self.lease = None
        self.term = NOBODY
        self.last_refresh = float("-inf")
        self.problem = ""  # the last error talking to etcd, "" when it answers

    def step(self, now: float) -> Term:
        """Keep the lease if leading, else campaign once; returns the term as it now stands.
        A leader that cannot refresh its lease for `ttl_s` seconds steps down: by then etcd
        may have given the key to another controller."""
        try:
            self.term = self._keep(now) if self.term.leading else self._campaign(now)
            self.problem = ""
        except Exception as error:  # noqa: BLE001 - etcd unreachable or answering nonsense
            self.problem = f"etcd: {error!r}"
            if self.term.leading and now - self.last_refresh >= self.ttl_s:
                self.term, self.lease = NOBODY, None
        return self.term

    def resign(self) -> None:
        """Give the key up at once (a clean shutdown), so that another controller need not
        wait for the lease to run out."""
        if self.lease is not None:
            try:
                self.lease.revoke()
            except Exception:  # noqa: BLE001 - the lease runs out anyway
                pass
        self.lease, self.term = None, NOBODY

    def _keep(self, now: float) -> Term:
        if self.lease.refresh() <= 0:  # the lease ran out: the key went with it
            self.lease = None
            return self._campaign(now)
        self.last_refresh = now
        return self.term

    def _campaign(self, now: float) -> Term:
        lease = self.client.lease(self.ttl_s)
        key = _b64(self.key)
        result = self.client.transaction({
            "compare": [{"key": key, "result": "EQUAL", "target": "CREATE", "create_revision": 0}],
            "success": [{"request_put": {"key": key, "value": _b64(self.instance_id),
                                         "lease": lease.id}}],
            "failure": [{"request_range": {"key": key}}],
        })
        if result.get("succeeded"):
            self.lease, self.last_refresh = lease, now
            # the put is the key's creation: its revision is the transaction's
            return Term(True, self.instance_id, int(result["header"]["revision"]))
        lease.revoke()
        found = result["responses"][0]["response_range"].get("kvs", [])
        if not found:  # the key vanished between compare and read: campaign again next step
            return NOBODY
        holder = base64.b64decode(found[0]["value"]).decode(errors="replace")
        # (our own id from an earlier run is not ours to lead with: that lease is not this one)
        return Term(False, holder, int(found[0]["create_revision"]))
