"""``qroute lab demo-live`` (`make demo-live`): a network a person watches and steers.

Abilene (or ``--topology geant``) in Mininet under the qroute controller, with its dashboard,
and a traffic episode that loops until Ctrl-C: consecutive traffic matrices (the real ones where
the data directory is there, the Abilene matrices after the shipped checkpoints' training split;
seeded gravity-model ones otherwise, as ``make demo`` chooses) replayed as paced TCP, as ``qroute
lab replay`` sends them. It prints the dashboard's URL and the API token its buttons need, then
one line per matrix. Ctrl-C (SIGINT) or SIGTERM stops it: the iperf3 processes, Mininet, the
controller and the Open vSwitch bridges it started are all taken down. Needs root.
"""
from __future__ import annotations

import argparse
import signal
import socket
import sys
import time

from qnn.argtypes import at_least, nonnegative_int, positive_float

DEFAULT_PORT = 8080  # the dashboard's (the controller's REST) port: what the README's SSH tunnel forwards
CLIENT_GRACE_S = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from controller.lab.replay import POLICY_SETTINGS, TOPOLOGIES

    parser.add_argument("--topology", choices=TOPOLOGIES, default="abilene")
    parser.add_argument("--policy", choices=tuple(POLICY_SETTINGS), default="qnn-split",
                        help="the controller's policy at start (the dashboard can switch it)")
    parser.add_argument("--port", type=at_least(1, int), default=DEFAULT_PORT,
                        help=f"the dashboard's port on 127.0.0.1 (default {DEFAULT_PORT})")
    parser.add_argument("--matrices", type=at_least(1, int), default=12,
                        help="consecutive matrices in the loop (default 12)")
    parser.add_argument("--seconds-per-matrix", type=at_least(4, int), default=10,
                        help="each matrix is replayed this long (whole seconds)")
    parser.add_argument("--overload", type=positive_float, default=1.1,
                        help="OSPF's busiest link load / capacity in the busiest matrix (default 1.1)")
    parser.add_argument("--streams", type=at_least(1, int), default=4, help="TCP connections per pair")
    parser.add_argument("--seed", type=nonnegative_int, default=7,
                        help="seed of the synthetic traffic (no data directory)")


class Stop(BaseException):
    """SIGINT or SIGTERM: leave the loop and clean up (a BaseException, as KeyboardInterrupt:
    no `except Exception` on the way swallows it)."""


def _stop(signum, frame):
    raise Stop(signal.Signals(signum).name)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def traffic_plan(args):
    """The replay plan of the loop: ``args.matrices`` consecutive matrices from the first that
    no shipped Abilene checkpoint was trained to score (from 0 for synthetic and GEANT traffic)."""
    from controller.lab import replay
    from topologies.abilene import week_or_gravity

    start = 0
    if args.topology == "abilene" and week_or_gravity(n_synthetic=1, seed=args.seed)[2]:
        start = replay.first_unseen_matrix()
    plan_args = argparse.Namespace(topology=args.topology, matrices=(start, args.matrices), seed=args.seed,
                                   overload=args.overload, volume_share=0.8, streams=args.streams,
                                   ceiling_mbps=replay.LINK_TRAFFIC_CEILING_MBPS)
    plan, _ = replay.build_plan(plan_args)
    return plan


def _busiest(lab) -> str:
    links = lab.rest("links")
    if not links:
        return "no links"
    worst = max(links, key=lambda link: link["utilisation"] or 0.0)
    return f"busiest link s{worst['src']}-s{worst['dst']} at {worst['utilisation'] or 0.0:.0%}"


def run(args: argparse.Namespace) -> int:
    from controller.lab import replay

    plan = traffic_plan(args)
    settings = replay._controller_settings(args.policy, plan)  # refused settings stop it here
    if not _port_free(args.port):
        print(f"qroute lab demo-live: port {args.port} on 127.0.0.1 is in use; pick another with --port",
              file=sys.stderr)
        return 2
    return run_live(args, plan, settings)


def run_live(args, plan, settings) -> int:
    import mininet.clean

    from controller.lab.browser import dashboard_url
    from controller.lab.mininet_lab import MininetLab
    from controller.lab.replay import SEGMENT_PAYLOAD_BYTES, payload_rate, stream_rates
    from topologies.mininet_topos import AbileneTopo, GeantTopo, host_of

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = []  # every iperf3 started, so that all of them are stopped
    topo = (AbileneTopo if plan.topology == "abilene" else GeantTopo)(scale=plan.capacity_scale)
    mininet.clean.cleanup()
    lab = MininetLab(topo, settings=settings)
    lab.rest_port = args.port
    why = "the traffic loop ended"
    try:
        lab.start()
        lab.wait_until_ready(timeout=120)
        lab.ping_all()
        url = dashboard_url(lab.rest_port)
        print(f"dashboard   {url}", flush=True)
        print(f"api token   {lab.settings['api_token']}   (the dashboard's Control panel asks for it)",
              flush=True)
        print(f"controller  {args.policy} on {plan.topology}; its log: {lab.log_path}", flush=True)
        print(f"traffic     {plan.source}: matrices {plan.matrix_indices[0]}..{plan.matrix_indices[-1]}, "
              f"{args.seconds_per_matrix} s each, looping", flush=True)
        print(f"elsewhere   ssh -L {lab.rest_port}:127.0.0.1:{lab.rest_port} <this host>, then the same URL",
              flush=True)
        print("Ctrl-C stops it and cleans up.", flush=True)
        ports = {pair: replay_port for replay_port, pair in enumerate(plan.pairs, start=5301)}
        for (_src, dst), port in ports.items():
            processes.append(lab.start_iperf3_server(host_of(dst), port, one_test=False))
        time.sleep(1.0)
        started = time.monotonic()
        while True:
            for index, rates in zip(plan.matrix_indices, plan.rates):
                clients = []
                for (src, dst), rate in rates.items():
                    # recorded as each starts: a Ctrl-C between two starts must stop the first
                    clients.append(lab.start_iperf3_client(
                        host_of(src), host_of(dst), ports[(src, dst)], args.seconds_per_matrix,
                        paced_mbps=payload_rate(stream_rates(rate, plan.streams)[0]) / 1e6,
                        datagram_bytes=SEGMENT_PAYLOAD_BYTES, streams=plan.streams))
                    processes.append(clients[-1])
                deadline = time.monotonic() + args.seconds_per_matrix + CLIENT_GRACE_S
                time.sleep(args.seconds_per_matrix / 2)
                busiest = _busiest(lab)  # mid-matrix, while its traffic runs
                for client in clients:
                    try:
                        client.communicate(timeout=max(0.1, deadline - time.monotonic()))
                    except Exception:  # noqa: BLE001 - a stuck client is stopped, the loop goes on
                        client.kill()
                        client.communicate()
                processes[:] = [p for p in processes if p.poll() is None]
                print(f"[{time.monotonic() - started:7.1f} s] matrix {index}: {len(rates)} pairs, "
                      f"{sum(rates.values()) / 1e6:.1f} Mbit/s offered; mid-way the {busiest}", flush=True)
    except Stop as stop:
        why = f"{stop} received"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(f"demo-live: {why}; stopping traffic, Mininet and the controller", flush=True)
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            try:
                process.wait(timeout=5)
            except Exception:  # noqa: BLE001 - mininet.clean below kills what is left
                pass
        lab.stop()
        mininet.clean.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("demo-live: stopped", flush=True)
    return 0
