"""The OpenFlow channel itself: who may hold a dpid, and Ryu 4.34's TLS listener made to serve
more than one switch.

Ryu lets the newest connection win: when a second connection reports a dpid already connected,
``ryu.app.ofctl.service`` closes the first on the features reply, and ``ryu.topology.switches``
(and ``ryu.controller.dpset``) log "Multiple connections from ..." and close it on the move to
MAIN, so any local process that speaks OpenFlow can cut a switch off by claiming its dpid. Here
a connection's features reply reaches the apps only if no live connection holds its dpid; live
means it answers the echo requests Ryu sends every ``echo_request_interval`` (at most the one
just sent is unanswered). A holder that stopped answering is closed and the newcomer takes its
place.
"""
from __future__ import annotations

import logging
import time
from collections import deque

LOG = logging.getLogger("qroute.channel")

ACCEPT, REFUSE, REPLACE = "accept", "refuse", "replace"
HANDSHAKE_TIMEOUT_S = 5.0


def holder_verdict(holder_active: bool, holder_dead: bool, unanswered_echoes: int) -> str:
    """What to do with a new connection for a dpid already held by a connection in the given
    condition: REFUSE the newcomer while the holder is alive (connected, not closed, at most
    the echo request in flight unanswered), else REPLACE the holder."""
    if holder_active and not holder_dead and unanswered_echoes <= 1:
        return REFUSE
    return REPLACE


class DpidRegistry:
    """The connection holding each dpid, and what was refused."""

    def __init__(self, clock=time.monotonic, log: logging.Logger = LOG):
        self.log = log  # the app hands its own, which ryu-manager's logging shows
        self.holders: dict[int, object] = {}
        self.refused_total = 0
        self.replaced_total = 0
        self.recent: deque = deque(maxlen=10)
        self.clock = clock

    def verdict(self, datapath) -> str:
        from ryu.controller.handler import DEAD_DISPATCHER

        holder = self.holders.get(datapath.id)
        if holder is None or holder is datapath:
            return ACCEPT
        return holder_verdict(getattr(holder, "is_active", False),
                              getattr(holder, "state", None) == DEAD_DISPATCHER,
                              len(getattr(holder, "unreplied_echo_requests", ())))

    def claim(self, datapath) -> bool:
        """Whether `datapath` may hold its dpid (closing a holder that is gone)."""
        verdict = self.verdict(datapath)
        if verdict == REFUSE:
            self.refused_total += 1
            self.recent.append({"dpid": datapath.id, "address": _address(datapath),
                                "holder": _address(self.holders[datapath.id]),
                                "at": self.clock()})
            self.log.warning("second connection for dpid %016x from %s refused: %s holds it and "
                        "answers echo", datapath.id, _address(datapath),
                        _address(self.holders[datapath.id]))
            return False
        if verdict == REPLACE:
            old = self.holders[datapath.id]
            self.replaced_total += 1
            self.log.warning("dpid %016x: %s stopped answering echo (%d unanswered, active %s, "
                             "state %s); %s takes over", datapath.id, _address(old),
                             len(getattr(old, "unreplied_echo_requests", ())),
                             getattr(old, "is_active", None), getattr(old, "state", None),
                             _address(datapath))
            old.close()
        self.holders[datapath.id] = datapath
        return True

    def release(self, datapath) -> None:
        if datapath.id is not None and self.holders.get(datapath.id) is datapath:
            del self.holders[datapath.id]

    def describe(self) -> dict:
        return {"dpid_takeovers_refused": self.refused_total,
                "dpid_holders_replaced": self.replaced_total,
                "recent_takeovers_refused": list(self.recent)}


def _address(datapath) -> str:
    address = getattr(datapath, "address", None)
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)


REGISTRY = DpidRegistry()


def guard_dpids(registry: DpidRegistry = REGISTRY) -> None:
    """Make every Ryu connection claim its dpid when its FEATURES_REPLY arrives, before any app
    hears of it: ``ryu.app.ofctl.service`` closes an older connection for the same dpid on the
    features event, and ``ryu.topology.switches`` on the move to MAIN. A refused connection is
    closed with its dpid cleared and its features event dropped, so no app sees it (Ryu's apps
    ignore a dead connection without a dpid, as one that died in its handshake)."""
    from ryu.controller import ofp_event, ofp_handler
    from ryu.controller.handler import DEAD_DISPATCHER

    handler_class = ofp_handler.OFPHandler
    original = handler_class.send_event_to_observers
    if getattr(original, "_qroute_guarded", False):
        return

    def send_event_to_observers(self, ev, state=None, _original=original):
        if isinstance(ev, ofp_event.EventOFPSwitchFeatures):
            datapath = ev.msg.datapath
            datapath.id = ev.msg.datapath_id
            if not registry.claim(datapath):
                datapath.id = None
                datapath.close()
                return
        elif isinstance(ev, ofp_event.EventOFPStateChange) and ev.state == DEAD_DISPATCHER:
            registry.release(ev.datapath)
        _original(self, ev, state)

    send_event_to_observers._qroute_guarded = True
    handler_class.send_event_to_observers = send_event_to_observers


def fix_tls_listener() -> None:
    """Ryu 4.34's TLS listener pops its certificate and context out of the arguments it shares
    between connections, so every connection after the first is wrapped without a certificate
    and fails its handshake. This one builds the context once and wraps every connection in it."""
    import ssl

    from ryu.lib import hub

    server_class = hub.StreamServer
    if getattr(server_class, "_qroute_tls_fixed", False):
        return

    class StreamServer(server_class):
        _qroute_tls_fixed = True

        def __init__(self, listen_info, handle=None, backlog=None, spawn="default", **ssl_args):
            super().__init__(listen_info, handle, backlog, spawn)  # plain: wrapped below
            if not ssl_args:
                return
            context = ssl_args.pop("ssl_ctx", None) or ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(ssl_args.pop("certfile"), ssl_args.pop("keyfile", None))
            if "ca_certs" in ssl_args:
                context.load_verify_locations(ssl_args.pop("ca_certs"))
            context.verify_mode = ssl_args.pop("cert_reqs", ssl.CERT_NONE)
            context.minimum_version = ssl.TLSVersion.TLSv1_2

            def wrap_and_handle(sock, addr):
                try:
                    # the handshake now, bounded: Ryu's receive loop retries on every SSLError,
                    # so a client that never completes one would keep it spinning
                    sock.settimeout(HANDSHAKE_TIMEOUT_S)
                    wrapped = context.wrap_socket(sock, server_side=True,
                                                  do_handshake_on_connect=False)
                    wrapped.do_handshake()
                    wrapped.settimeout(None)
                except (OSError, ssl.SSLError) as error:
                    # a client without TLS or without a certificate the CA signed
                    LOG.warning("OpenFlow TLS handshake with %s:%s failed: %s", addr[0], addr[1],
                                error)
                    sock.close()
                    return
                handle(wrapped, addr)

            self.handle = wrap_and_handle

    hub.StreamServer = StreamServer
    from ryu.controller import controller

    controller.StreamServer = StreamServer
